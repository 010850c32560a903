/**
 * A manifest's optional field sent as `null` counts as absent, as everywhere else in the API (and
 * as Go's decoder reads it): PUT stores the manifest as given, and a session create from it falls
 * back as if the field were missing. `metadata` and `spec` sent as null are missing, so a manifest
 * other than `{}` is still refused without them. `"ports": null` was refused with 400 `expected
 * array, received null`.
 */
import { describe, expect, it } from "vitest";
import { getAgentRow, makeAgent, uniqueId, waitFor } from "../helpers/db";
import { putTemplate, storedManifest } from "../helpers/templates";
import { callJson, tokenFor } from "../helpers/http";
import { connectAgent } from "../helpers/ws";


describe("a manifest field sent as null", () => {
  it.each([
    ["ports", { metadata: {}, spec: { baseImage: "example/tigervnc", ports: null } }],
    ["defaultResources", { metadata: {}, spec: { baseImage: "example/tigervnc", defaultResources: null } }],
    ["defaultResources.memory and cpu", { metadata: {}, spec: { baseImage: "example/tigervnc", defaultResources: { memory: null, cpu: null } } }],
  ])("is absent for %s: the manifest is stored as given", async (_what, manifest) => {
    const name = uniqueId("nulls");
    const answer = await putTemplate(name, manifest);
    expect(answer.status, await answer.clone().text()).toBe(200);
    expect(await storedManifest(name)).toEqual(manifest);
  });

  it.each([
    ["metadata", { metadata: null, spec: { baseImage: "img" } }, "manifest.metadata"],
    ["spec", { metadata: {}, spec: null }, "manifest.spec"],
  ])("is missing for %s, which a manifest that is not empty needs, and nothing is stored", async (_what, manifest, path) => {
    const name = uniqueId("nulls");
    const answer = await putTemplate(name, manifest);
    expect(answer.status).toBe(400);
    const body = (await answer.json()) as { fields: Record<string, string> };
    expect(body.fields[path]).toMatch(/required in a manifest that is not empty/);
    expect(await storedManifest(name)).toBeUndefined();
  });

  it("is absent for ports when a session starts: it streams on the fallback port and the agent gets the manifest as stored", async () => {
    const agent = await makeAgent();
    const socket = await connectAgent(agent.agentId, agent.apiKey);
    await waitFor("agent online", async () => ((await getAgentRow(agent.agentId))?.status === "online" ? true : undefined));
    const template = uniqueId("nullports");
    const manifest = { metadata: {}, spec: { baseImage: "example/tigervnc", ports: null, defaultResources: null } };
    expect((await putTemplate(template, manifest)).status).toBe(200);
    const created = await callJson("POST", "/api/v1/sessions", 202, { token: await tokenFor("dora"), body: { user: "dora", template } });
    expect(created).toMatchObject({ streamingProtocol: "vnc", streamingPort: 5900 });
    const frame = await socket.nextFrame();
    expect(frame.payload.payload.templateManifest).toEqual(manifest);
    socket.close();
  });
});
