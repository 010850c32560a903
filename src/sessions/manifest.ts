/** Template manifests as agents expect them (spec §1.9) and the streaming settings they imply. */
import type { StreamingFallback, StreamingRule } from "../db/queries/session-create";

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
