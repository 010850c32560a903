/**
 * A template's manifest goes to agents as `templateManifest` and is read by the session create.
 * PUT refuses one they would misread (a key in another case than they read it, spec §1.9), one
 * docker-agent cannot start (no metadata, baseImage or containerPort), or one that would fail every create of the
 * template (a containerPort that is no port), and stores nothing; what it accepts it stores as
 * given, unknown keys included (labels may be spelled any way).
 */
import { describe, expect, it } from "vitest";
import { putTemplate, storedManifest } from "../helpers/templates";


describe("a template's manifest", () => {
  it.each([
    ["a containerPort beyond 65535", { metadata: {}, spec: { baseImage: "img", ports: [{ containerPort: 1e12 }] } }, "manifest.spec.ports.0.containerPort"],
    ["a containerPort that is not a whole number", { metadata: {}, spec: { baseImage: "img", ports: [{ containerPort: "3000" }] } }, "manifest.spec.ports.0.containerPort"],
    ["a baseImage that is not a string", { metadata: {}, spec: { baseImage: 7 } }, "manifest.spec.baseImage"],
    ["a capitalised Spec", { metadata: {}, Spec: { baseImage: "img" } }, "manifest.Spec"],
    ["a capitalised BaseImage", { metadata: {}, spec: { BaseImage: "img" } }, "manifest.spec.BaseImage"],
    ["a capitalised ContainerPort", { metadata: {}, spec: { ports: [{ name: "vnc" }, { ContainerPort: 3000 }] } }, "manifest.spec.ports.1.ContainerPort"],
    ["a capitalised vnc.Port", { metadata: {}, spec: { vnc: { enabled: true, Port: 5900 } } }, "manifest.spec.vnc.Port"],
    ["no metadata", { spec: { baseImage: "img" } }, "manifest.metadata"],
    ["no spec", { metadata: { name: "t" } }, "manifest.spec"],
    ["no baseImage", { metadata: {}, spec: {} }, "manifest.spec.baseImage"],
    ["a port without a containerPort", { metadata: {}, spec: { baseImage: "img", ports: [{ name: "vnc" }] } }, "manifest.spec.ports.0.containerPort"],
    ["a metadata.name that is not a string", { metadata: { name: 5 }, spec: { baseImage: "img" } }, "manifest.metadata.name"],
    ["an env value that is not a string", { metadata: {}, spec: { baseImage: "img", env: [{ name: "A", value: 1 }] } }, "manifest.spec.env.0.value"],
    ["env that is not a list", { metadata: {}, spec: { baseImage: "img", env: { A: "1" } } }, "manifest.spec.env"],
    ["a vnc.port that is not a whole number", { metadata: {}, spec: { baseImage: "img", vnc: { port: "3000" } } }, "manifest.spec.vnc.port"],
    ["a vnc.enabled that is not true or false", { metadata: {}, spec: { baseImage: "img", vnc: { enabled: "yes" } } }, "manifest.spec.vnc.enabled"],
    ["a port's protocol that is not a string", { metadata: {}, spec: { baseImage: "img", ports: [{ containerPort: 80, protocol: 6 }] } }, "manifest.spec.ports.0.protocol"],
    // Its start's frame would pass docker-agent's 512 KiB read limit, which closes its socket for good.
    ["a size its start's frame cannot carry", { metadata: {}, spec: { baseImage: "img", blob: "x".repeat(490 * 1024) } }, "manifest"],
  ])("is refused with %s, and nothing is stored", async (_what, manifest, path) => {
    const answer = await putTemplate("bad-template", manifest);
    expect(answer.status).toBe(400);
    const body = (await answer.json()) as { error: string; issues: { path: string }[] };
    expect(body.error).toBe("Validation failed");
    expect(body.issues.map((i) => i.path)).toContain(path);
    expect(await storedManifest("bad-template")).toBeUndefined();
  });

  it.each([
    ["longer than a label value", "t".repeat(64)],
    ["ending with a dash", "desk-"],
  ])("is refused under a name %s", async (_what, name) => {
    const answer = await putTemplate(name, {});
    expect(answer.status).toBe(400);
    expect(await storedManifest(name)).toBeUndefined();
  });

  it("is stored as given when agents can read it, unknown keys included", async () => {
    const manifest = {
      metadata: { name: "good-template", labels: { Spec: "any case here" } },
      spec: {
        baseImage: "lscr.io/linuxserver/firefox:latest",
        description: null,
        ports: [{ name: "vnc", containerPort: 3000, protocol: "TCP" }],
        env: [{ name: "PUID", value: "1000" }],
        volumeMounts: [{ name: "home", mountPath: "/config" }],
        vnc: { enabled: true, port: 3000, protocol: "websocket" },
        custom: { x: 1 },
      },
      extra: true,
    };
    expect((await putTemplate("good-template", manifest)).status).toBe(200);
    expect(await storedManifest("good-template")).toEqual(manifest);
    expect((await putTemplate("empty-template", {})).status).toBe(200);
  });
});
