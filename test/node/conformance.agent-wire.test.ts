/**
 * Conformance items that need a real agent process on the other end: protocol pings (B18), the
 * reference agent's answer to an unknown action (E36), and the docker-agent dialect end to end
 * through the session API (its command_response mapped onto the lifecycle).
 */
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReferenceAgent } from "../../src/local/agent/agent";
import { eventually, startStack } from "./helpers/stack";
import type { Stack } from "./helpers/stack";

const FAST = { workMs: 20, heartbeatMs: 1000, approvalPollMs: 200, backoff: { minMs: 50, maxMs: 200 } };

describe("the wire, with real agents (Worker in workerd, PLATFORM=docker)", () => {
  let stack: Stack;
  const agents: ReferenceAgent[] = [];
  beforeAll(async () => {
    stack = await startStack({ vars: { PLATFORM: "docker" } });
    await stack.sql.query(
      `insert into templates (name, manifest) values ('nginx-desktop', '{"metadata":{"name":"nginx-desktop"},"spec":{"baseImage":"nginx"}}')`,
    );
  }, 120_000);
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await stack?.stop();
  });

  it("[B18] answers the agent's protocol pings with pongs in well under 6 s", async () => {
    const apiKey = await stack.makeAgent("pinger");
    const ws = new WebSocket(`${stack.wsUrl}/api/v1/agents/connect?agent_id=pinger`, { headers: { "X-Agent-API-Key": apiKey } });
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    const rtts: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const pong = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no pong within 6 s")), 6000);
        ws.once("pong", () => {
          clearTimeout(timer);
          resolve();
        });
      });
      ws.ping();
      await pong;
      rtts.push(performance.now() - started);
    }
    expect(Math.max(...rtts)).toBeLessThan(6000);
    ws.close();
  });

  it("[E36] gets ack then failed 'unknown action: <action>' from the k8s reference agent; the row ends failed", async () => {
    const apiKey = await stack.makeAgent("k8s-unknown");
    const agent = new ReferenceAgent({ agentId: "k8s-unknown", apiKey, url: stack.wsUrl, ...FAST });
    agents.push(agent);
    agent.start();
    await agent.waitForState("connected");
    // Inserted by hand, old enough for the sweep to hand it over.
    await stack.sql.query(
      `insert into agent_commands (command_id, agent_id, action, created_at) values ('cmd-ping-1', 'k8s-unknown', 'PING', now() - interval '1 minute')`,
    );
    const row = await eventually("failed", async () => {
      await stack.worker.sweep();
      const { rows } = await stack.sql.query(`select * from agent_commands where command_id = 'cmd-ping-1'`);
      return rows[0]?.status === "failed" ? rows[0] : undefined;
    });
    expect(row.error_message).toBe("unknown action: PING");
    expect(row.acknowledged_at).not.toBeNull();
    expect(row.completed_at).toBeNull();
  });

  it("runs a docker-agent session from create to Running and stops it, through command_response", async () => {
    const apiKey = await stack.makeAgent("docker-e2e-api", "docker");
    const agent = new ReferenceAgent({ agentId: "docker-e2e-api", apiKey, url: stack.wsUrl, dialect: "docker", ...FAST });
    agents.push(agent);
    agent.start();
    await agent.waitForState("connected");
    await eventually("online", async () => {
      const { rows } = await stack.sql.query(`select status from agents where agent_id = 'docker-e2e-api'`);
      return rows[0]?.status === "online" ? true : undefined;
    });
    const token = await stack.token("frank");
    const created = await stack.api("POST", "/api/v1/sessions", { token, body: { user: "frank", template: "nginx-desktop" } });
    expect(created.status).toBe(202);
    const name: string = created.body.name;
    await eventually("Running", async () => {
      const s = await stack.api("GET", `/api/v1/sessions/${name}`, { token });
      return s.body.status.phase === "Running" ? true : undefined;
    });
    const { rows } = await stack.sql.query(`select status, result from agent_commands where session_id = $1 and action = 'start_session'`, [name]);
    expect(rows[0]).toMatchObject({ status: "completed", result: { sessionId: name, state: "running", container: { id: expect.any(String) } } });

    expect((await stack.api("DELETE", `/api/v1/sessions/${name}`, { token })).status).toBe(202);
    await eventually("terminated", async () => {
      const s = await stack.api("GET", `/api/v1/sessions/${name}`, { token });
      return s.body.state === "terminated" ? true : undefined;
    });
  });
});
