import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getAgentRow, makeAgent, makeTemplate, query, uniqueId, waitFor } from "../helpers/db";
import { callJson, tokenFor } from "../helpers/http";
import { connectAgent } from "../helpers/ws";

type Stored = { streaming_protocol: string; streaming_port: number; streaming_path: string | null; tags: string[] | null };

describe("a new session's streaming settings and manifest come from its template", () => {
  it("derives protocol, port and path from the image and ports, stores them and sends the manifest", async () => {
    const agent = await makeAgent();
    const socket = await connectAgent(agent.agentId, agent.apiKey);
    await waitFor("agent online", async () => ((await getAgentRow(agent.agentId))?.status === "online" ? true : undefined));
    const bob = await tokenFor("bob");

    const cases: Array<{ manifest: Record<string, unknown>; expected: [string, number, string | null] }> = [
      { manifest: { spec: { baseImage: "lscr.io/linuxserver/firefox:latest" } }, expected: ["selkies", 3000, "/websockify"] },
      { manifest: { spec: { baseImage: "kasmweb/chrome:1.15" } }, expected: ["selkies", 6901, "/websockify"] },
      { manifest: { spec: { baseImage: "guacamole/guacd" } }, expected: ["guacamole", 8080, "/guacamole"] },
      { manifest: { spec: { baseImage: "example/x2go-desktop" } }, expected: ["x2go", 22, null] },
      { manifest: { spec: { baseImage: "example/tigervnc", ports: [{ containerPort: 5901 }] } }, expected: ["vnc", 5901, null] },
      { manifest: { spec: { baseImage: 42, ports: "none" } }, expected: ["vnc", 5900, null] },
      { manifest: { kind: "Template" }, expected: ["vnc", 5900, null] },
    ];
    for (const { manifest, expected } of cases) {
      const template = uniqueId("tpl");
      await makeTemplate(template, manifest);
      const created = await callJson<Record<string, any>>("POST", "/api/v1/sessions", 202, {
        token: bob,
        body: { user: "bob", template },
      });
      const [protocol, port, path] = expected;
      expect({ template, protocol: created.streamingProtocol, port: created.streamingPort, path: created.streamingPath ?? null }).toEqual({
        template,
        protocol,
        port,
        path,
      });
      const [stored] = await query<Stored>(sql`select * from sessions where id = ${created.name}`);
      expect([stored!.streaming_protocol, stored!.streaming_port, stored!.streaming_path]).toEqual(expected);
      const frame = await socket.nextFrame();
      expect(frame.payload.payload.templateManifest).toEqual(manifest);
    }
    socket.close();
  });

  it("sends the minimal manifest for a template whose manifest is empty, and streams it over selkies", async () => {
    const agent = await makeAgent();
    const socket = await connectAgent(agent.agentId, agent.apiKey);
    await waitFor("agent online", async () => ((await getAgentRow(agent.agentId))?.status === "online" ? true : undefined));
    const template = uniqueId("empty");
    await makeTemplate(template, {});
    const created = await callJson<Record<string, any>>("POST", "/api/v1/sessions", 202, {
      token: await tokenFor("carol"),
      body: { user: "carol", template, tags: ["gpu", "eu"] },
    });
    expect(created).toMatchObject({ streamingProtocol: "selkies", streamingPort: 3000, streamingPath: "/websockify", tags: ["gpu", "eu"] });
    const frame = await socket.nextFrame();
    expect(frame.payload.payload).toMatchObject({
      tags: ["gpu", "eu"],
      templateManifest: {
        apiVersion: "stream.space/v1alpha1",
        kind: "Template",
        metadata: { name: template, namespace: "streamspace" },
        spec: { baseImage: "lscr.io/linuxserver/firefox:latest" },
      },
    });
    const [stored] = await query<Stored>(sql`select * from sessions where id = ${created.name}`);
    expect(stored!.tags).toEqual(["gpu", "eu"]);
    socket.close();
  });
});
