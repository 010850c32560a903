/** Template manifests as agents expect them (spec §1.9) and the streaming settings they imply. */
import { z } from "@hono/zod-openapi";
import { TOO_LARGE_FOR_A_FRAME, fitsACommandFrame } from "../agent/protocol";
import type { StreamingFallback, StreamingRule } from "../db/queries/session-create";

const Port = z.looseObject({ containerPort: z.number().int().min(1).max(65535) });

/**
 * What an admin may store as a manifest: what both agents can read. Unknown keys pass through
 * (they are the template's business); the keys agents and the session create read must have
 * the type they read them as and their exact lower-case camelCase spelling. `{}` stands for the
 * minimal manifest; any other needs `metadata` and a `spec` with a `baseImage`, and each port a
 * `containerPort`: docker-agent refuses a manifest without them, or pulls an image named "" and
 * publishes port 0 (k8s-agent could fall back to a Template CRD, which this API does not manage).
 */
export const ManifestSchema = z
  .looseObject({
    metadata: z.looseObject({}).optional(),
    spec: z
      .looseObject({
        baseImage: z.string().min(1),
        ports: z.array(Port).optional(),
        defaultResources: z.looseObject({ memory: z.string().optional(), cpu: z.string().optional() }).optional(),
      })
      .optional(),
  })
  // Run even when a field failed its type, so one answer names every problem.
  .superRefine((manifest, ctx) => {
    if (Object.keys(manifest).length > 0) {
      for (const key of ["metadata", "spec"] as const) {
        if (manifest[key] === undefined) ctx.addIssue({ code: "custom", path: [key], message: "required in a manifest that is not empty (docker-agent reads it)" });
      }
    }
    for (const { path, known } of misspelledKeys(manifest, READ, [])) {
      ctx.addIssue({ code: "custom", path, message: `agents read this key only as "${known}" (spec §1.9)` });
    }
    if (!fitsACommandFrame(manifest)) ctx.addIssue({ code: "custom", path: [], message: `a manifest ${TOO_LARGE_FOR_A_FRAME}` });
  }, { when: (payload) => typeof payload.value === "object" && payload.value !== null && !Array.isArray(payload.value) });

/** The keys agents read, where they read them (a one-element list: each element of a list). */
type Shape = { [key: string]: Shape | [Shape] | null };
const READ: Shape = {
  metadata: { name: null, namespace: null },
  spec: {
    displayName: null,
    description: null,
    baseImage: null,
    appType: null,
    defaultResources: { memory: null, cpu: null },
    ports: [{ name: null, containerPort: null, protocol: null }],
    env: [{ name: null, value: null }],
    volumeMounts: [{ name: null, mountPath: null }],
    vnc: { enabled: null, port: null, protocol: null },
  },
};

type Misspelled = { path: (string | number)[]; known: string };

/** Keys spelled in another case than agents read them (`Spec`, `BaseImage`): agents silently skip them. */
function misspelledKeys(value: unknown, shape: Shape, path: (string | number)[]): Misspelled[] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return [];
  const byLowerCase = new Map(Object.keys(shape).map((key) => [key.toLowerCase(), key]));
  return Object.entries(value).flatMap(([key, child]): Misspelled[] => {
    const known = byLowerCase.get(key.toLowerCase());
    if (known === undefined) return [];
    if (known !== key) return [{ path: [...path, key], known }];
    const inner = shape[known];
    if (Array.isArray(inner)) {
      return Array.isArray(child) ? child.flatMap((item, i) => misspelledKeys(item, inner[0], [...path, key, i])) : [];
    }
    return inner ? misspelledKeys(child, inner, [...path, key]) : [];
  });
}

/** What the original synthesised when a template's manifest was empty. */
export function minimalManifest(name: string): Record<string, unknown> {
  return {
    apiVersion: "stream.space/v1alpha1",
    kind: "Template",
    metadata: { name, namespace: "streamspace" },
    spec: {
      displayName: name,
      baseImage: "lscr.io/linuxserver/firefox:latest",
      ports: [{ name: "vnc", containerPort: 3000, protocol: "TCP" }],
      defaultResources: { memory: "2Gi", cpu: "1000m" },
    },
  };
}

/**
 * The streaming settings a manifest implies (spec §2.3 `streaming_protocol`), as data: the
 * session create statement applies them in Postgres, where the template is read.
 */
export const STREAMING_BY_IMAGE: readonly StreamingRule[] = [
  { imageContains: "linuxserver/", protocol: "selkies", port: 3000, path: "/websockify" },
  { imageContains: "kasmweb/", protocol: "selkies", port: 6901, path: "/websockify" },
  { imageContains: "guacamole", protocol: "guacamole", port: 8080, path: "/guacamole" },
  { imageContains: "x2go", protocol: "x2go", port: 22, path: null },
];

/** Any other image: VNC on the manifest's first containerPort, else on 5900. */
export const STREAMING_FALLBACK: StreamingFallback = { protocol: "vnc", port: 5900 };
