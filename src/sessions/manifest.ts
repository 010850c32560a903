/** Template manifests as agents expect them (spec §1.9) and the streaming settings they imply. */
import { z } from "@hono/zod-openapi";
import { TOO_LARGE_FOR_A_FRAME, fitsACommandFrame } from "../agent/protocol";
import { isJsonObject } from "../lib/json";
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
    // null is absent, as Go's decoder reads it (and the API promises); stored as given.
    metadata: z.looseObject({}).nullish(),
    spec: z
      .looseObject({
        baseImage: z.string().min(1),
        ports: z.array(Port).nullish(),
        defaultResources: z.looseObject({ memory: z.string().nullish(), cpu: z.string().nullish() }).nullish(),
      })
      .nullish(),
  })
  // Run even when a field failed its type, so one answer names every problem.
  .superRefine((manifest, ctx) => {
    if (Object.keys(manifest).length > 0) {
      for (const key of ["metadata", "spec"] as const) {
        if (manifest[key] == null) ctx.addIssue({ code: "custom", path: [key], message: "required in a manifest that is not empty (docker-agent reads it)" });
      }
    }
    for (const { path, known } of misspelledKeys(manifest, READ, [])) {
      ctx.addIssue({ code: "custom", path, message: `agents read this key only as "${known}" (spec §1.9)` });
    }
    for (const { path, expected } of mistypedKeys(manifest, READ, [])) {
      ctx.addIssue({ code: "custom", path, message: `agents read this key as ${expected}` });
    }
    if (!fitsACommandFrame(manifest)) ctx.addIssue({ code: "custom", path: [], message: `a manifest ${TOO_LARGE_FOR_A_FRAME}` });
  }, { when: (payload) => typeof payload.value === "object" && payload.value !== null && !Array.isArray(payload.value) });

/**
 * The keys agents read, where they read them (a one-element list: each element of a list), and
 * the JSON type they read each as; `typed` where ManifestSchema checks the type itself.
 */
type Leaf = "string" | "integer" | "boolean" | "typed";
type Shape = { [key: string]: Shape | [Shape] | Leaf };
const READ: Shape = {
  metadata: { name: "string", namespace: "string" },
  spec: {
    displayName: "string",
    description: "string",
    baseImage: "typed",
    appType: "string",
    defaultResources: "typed",
    ports: [{ name: "string", containerPort: "typed", protocol: "string" }],
    env: [{ name: "string", value: "string" }],
    volumeMounts: [{ name: "string", mountPath: "string" }],
    vnc: { enabled: "boolean", port: "integer", protocol: "string" },
  },
};

type Misspelled = { path: (string | number)[]; known: string };

/** Keys spelled in another case than agents read them (`Spec`, `BaseImage`): agents silently skip them. */
function misspelledKeys(value: unknown, shape: Shape, path: (string | number)[]): Misspelled[] {
  if (!isJsonObject(value)) return [];
  const byLowerCase = new Map(Object.keys(shape).map((key) => [key.toLowerCase(), key]));
  return Object.entries(value).flatMap(([key, child]): Misspelled[] => {
    const known = byLowerCase.get(key.toLowerCase());
    if (known === undefined) return [];
    if (known !== key) return [{ path: [...path, key], known }];
    const inner = shape[known]!;
    if (Array.isArray(inner)) {
      return Array.isArray(child) ? child.flatMap((item, i) => misspelledKeys(item, inner[0], [...path, key, i])) : [];
    }
    return typeof inner === "object" ? misspelledKeys(child, inner, [...path, key]) : [];
  });
}

type Mistyped = { path: (string | number)[]; expected: string };

/**
 * Keys agents read whose value has another JSON type than they read it as (`"port": "3000"`, an
 * object where a list belongs): their decoders fail the start, or skip the value. `null` is
 * absent, as Go's decoder reads it.
 */
function mistypedKeys(value: unknown, shape: Shape, path: (string | number)[]): Mistyped[] {
  if (!isJsonObject(value)) return [];
  return Object.entries(shape).flatMap(([key, inner]): Mistyped[] => {
    const child = value[key];
    const at = [...path, key];
    if (child === undefined || child === null || inner === "typed") return [];
    // A list or object ManifestSchema types itself is reported there, once.
    const wrong = (expected: string, where = at): Mistyped[] => (TYPED_CONTAINERS.has(where.filter((p) => typeof p === "string").join(".")) ? [] : [{ path: where, expected }]);
    if (Array.isArray(inner)) {
      if (!Array.isArray(child)) return wrong("a list");
      return child.flatMap((item, i) => (isJsonObject(item) ? mistypedKeys(item, inner[0], [...at, i]) : wrong("an object", [...at, i])));
    }
    if (typeof inner === "object") return isJsonObject(child) ? mistypedKeys(child, inner, at) : wrong("an object");
    return hasType(child, inner) ? [] : [{ path: at, expected: LEAF_NAMES[inner] }];
  });
}

const TYPED_CONTAINERS = new Set(["metadata", "spec", "spec.ports"]);

const LEAF_NAMES = { string: "a string", integer: "a whole number", boolean: "true or false" } as const;

function hasType(value: unknown, type: Exclude<Leaf, "typed">): boolean {
  if (type === "integer") return Number.isInteger(value);
  return typeof value === type;
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
