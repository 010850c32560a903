/** Template manifests as agents expect them (spec §1.9) and the streaming settings they imply. */
import { z } from "@hono/zod-openapi";
import type { StreamingFallback, StreamingRule } from "../db/queries/session-create";

/** Keys agents read only in lower-case camelCase; a capitalised one is silently not read (spec §1.9). */
const CAPITALISED = new Set(["Metadata", "Spec", "BaseImage", "Ports", "ContainerPort", "DefaultResources", "Env", "Vnc", "VNC"]);

const Port = z.looseObject({ containerPort: z.number().int().min(1).max(65535).optional() });

/**
 * What an admin may store as a manifest: anything agents can read. Unknown keys pass through
 * (they are the template's business); the keys agents and the session create read must have
 * the type they read them as. `{}` stands for the minimal manifest.
 */
export const ManifestSchema = z
  .looseObject({
    metadata: z.looseObject({}).optional(),
    spec: z
      .looseObject({
        baseImage: z.string().min(1).optional(),
        ports: z.array(Port).optional(),
        defaultResources: z.looseObject({ memory: z.string().optional(), cpu: z.string().optional() }).optional(),
      })
      .optional(),
  })
  .superRefine((manifest, ctx) => {
    const spec = manifest["spec"];
    const keys = [
      ...Object.keys(manifest).map((key) => [key]),
      ...(spec ? Object.keys(spec).map((key) => ["spec", key]) : []),
    ];
    for (const path of keys) {
      if (CAPITALISED.has(path[path.length - 1]!)) {
        ctx.addIssue({ code: "custom", path, message: "agents read lower-case camelCase keys only (spec, baseImage, ports, containerPort, …)" });
      }
    }
  });

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
