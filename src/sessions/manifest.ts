/** Template manifests as agents expect them (spec §1.9) and the streaming settings they imply. */

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

export type Streaming = { protocol: string; port: number; path: string | null };

/** Streaming protocol from the manifest's image and ports (spec §2.3 `streaming_protocol`). */
export function detectStreaming(manifest: Record<string, unknown>): Streaming {
  const spec = (manifest["spec"] ?? {}) as { baseImage?: unknown; ports?: unknown };
  const image = typeof spec.baseImage === "string" ? spec.baseImage : "";
  if (image.includes("linuxserver/")) return { protocol: "selkies", port: 3000, path: "/websockify" };
  if (image.includes("kasmweb/")) return { protocol: "selkies", port: 6901, path: "/websockify" };
  if (image.includes("guacamole")) return { protocol: "guacamole", port: 8080, path: "/guacamole" };
  if (image.includes("x2go")) return { protocol: "x2go", port: 22, path: null };
  const first = Array.isArray(spec.ports) ? (spec.ports[0] as { containerPort?: unknown } | undefined) : undefined;
  if (typeof first?.containerPort === "number") return { protocol: "vnc", port: first.containerPort, path: null };
  return { protocol: "vnc", port: 5900, path: null };
}

export function isEmptyManifest(manifest: unknown): boolean {
  return typeof manifest !== "object" || manifest === null || Object.keys(manifest).length === 0;
}
