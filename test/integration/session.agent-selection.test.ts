import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getAgentRow, makeAgent, makeTemplate, query, uniqueId, waitFor } from "../helpers/db";
import type { TestAgent } from "../helpers/db";
import { callJson, tokenFor } from "../helpers/http";
import { connectAgent } from "../helpers/ws";
import type { AgentSocket } from "../helpers/ws";

/** Spec §5.4: online, same platform, heartbeat within 90 s; fewest sessions, then the latest heartbeat. */
describe("a new session goes to the least-loaded selectable agent", () => {
  const online = async (opts: { platform?: string } = {}): Promise<TestAgent & { socket: AgentSocket }> => {
    const agent = await makeAgent(opts);
    const socket = await connectAgent(agent.agentId, agent.apiKey);
    await waitFor("agent online", async () => ((await getAgentRow(agent.agentId))?.status === "online" ? true : undefined));
    return { ...agent, socket };
  };
  const heartbeatSecondsAgo = (agentId: string, seconds: number) =>
    query(sql`update agents set last_heartbeat = now() - make_interval(secs => ${seconds}) where agent_id = ${agentId}`);
  const giveSessions = async (agentId: string, states: string[]) => {
    for (const state of states) {
      await query(sql`insert into sessions (id, user_id, template_name, state, agent_id) values (${uniqueId("s")}, 'x', 'desktop', ${state}, ${agentId})`);
    }
  };
  const create = async () =>
    (await callJson<{ agentId: string }>("POST", "/api/v1/sessions", 202, { token: await tokenFor("ivy"), body: { user: "ivy", template: "desktop" } }))
      .agentId;

  it("prefers fewer sessions, breaks ties by the latest heartbeat, and skips stale, other-platform and busy-only agents", async () => {
    await makeTemplate("desktop", { spec: { baseImage: "example/tigervnc" } });
    const busy = await online();
    const lighter = await online();
    const lightest = await online();
    const stale = await online();
    const docker = await online({ platform: "docker" });
    await giveSessions(busy.agentId, ["running", "hibernated", "pending"]);
    await giveSessions(lighter.agentId, ["running", "terminated", "failed"]); // only one counts
    await giveSessions(lightest.agentId, ["running"]);
    await heartbeatSecondsAgo(lighter.agentId, 10);
    await heartbeatSecondsAgo(lightest.agentId, 5);
    await heartbeatSecondsAgo(stale.agentId, 120); // idle but outside the 90 s window
    await heartbeatSecondsAgo(docker.agentId, 0); // idle but another platform

    // Every selectable agent carries one session or more: lighter and lightest tie at one, and
    // lightest was seen last.
    expect(await create()).toBe(lightest.agentId);
    // Now lightest has two: lighter is the only one with one.
    expect(await create()).toBe(lighter.agentId);

    // An idle agent wins outright; between two idle ones, the latest heartbeat.
    const idleOld = await online();
    const idleNew = await online();
    await heartbeatSecondsAgo(idleOld.agentId, 30);
    await heartbeatSecondsAgo(idleNew.agentId, 1);
    expect(await create()).toBe(idleNew.agentId);
    expect(await create()).toBe(idleOld.agentId);

    for (const a of [busy, lighter, lightest, stale, docker, idleOld, idleNew]) a.socket.close();
  });
});
