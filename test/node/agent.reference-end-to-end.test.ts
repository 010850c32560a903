import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReferenceAgent } from "../../src/local/agent/agent";
import { BOOTSTRAP_KEY, eventually, startStack } from "./helpers/stack";
import type { Stack } from "./helpers/stack";

const FAST = { workMs: 20, heartbeatMs: 1000, approvalPollMs: 200, backoff: { minMs: 50, maxMs: 200 } };

describe("the reference agent against the Worker in workerd", () => {
  let stack: Stack;
  const agents: ReferenceAgent[] = [];
  beforeAll(async () => {
    stack = await startStack();
    await stack.sql.query(`insert into templates (name, manifest) values ('firefox-browser', '{"spec":{"baseImage":"lscr.io/linuxserver/firefox:latest"}}')`);
  }, 120_000);
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await stack?.stop();
  });

  it("runs a session from create to Running and stops it", async () => {
    const apiKey = await stack.makeAgent("k8s-e2e");
    const agent = new ReferenceAgent({ agentId: "k8s-e2e", apiKey, url: stack.wsUrl, ...FAST });
    agents.push(agent);
    agent.start();
    await agent.waitForState("connected");
    await eventually("agent online", async () => {
      const { rows } = await stack.sql.query("select status from agents where agent_id = 'k8s-e2e'");
      return rows[0]?.status === "online" ? true : undefined;
    });

    const token = await stack.token("erin");
    const created = await stack.api("POST", "/api/v1/sessions", { token, body: { user: "erin", template: "firefox-browser" } });
    expect(created.status).toBe(202);
    const name: string = created.body.name;

    const running = await eventually("Running", async () => {
      const s = await stack.api("GET", `/api/v1/sessions/${name}`, { token });
      return s.body.status.phase === "Running" ? s.body : undefined;
    });
    expect(running.status.url).toBe(`/api/v1/sessions/${name}/vnc`);
    expect(running.status.podName).toMatch(new RegExp(`^${name}-`));

    expect((await stack.api("DELETE", `/api/v1/sessions/${name}`, { token })).status).toBe(202);
    await eventually("terminated", async () => {
      const s = await stack.api("GET", `/api/v1/sessions/${name}`, { token });
      return s.body.state === "terminated" ? true : undefined;
    });
    expect(agent.stats()).toMatchObject({ completed: 2, failed: 0 });
  });

  it("waits for approval when it registers with the bootstrap key, then connects", async () => {
    const agent = new ReferenceAgent({ agentId: "k8s-bootstrap", apiKey: BOOTSTRAP_KEY, url: stack.wsUrl, ...FAST });
    agents.push(agent);
    agent.start();
    await agent.waitForState("awaiting_approval");
    const admin = await stack.token("root", true);
    const approved = await stack.api("POST", "/api/v1/admin/agents/k8s-bootstrap/approve", { token: admin });
    expect(approved.status).toBe(200);
    await agent.waitForState("connected");
  });
});
