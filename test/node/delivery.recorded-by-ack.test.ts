/**
 * A pushed command's `sent` record. The agent's ack records it when the ack comes promptly, so a
 * delivery the agent answers at once costs no write of its own; without an ack the Durable Object
 * records it on its own, within the 2 s of checklist 29. Commands pushed but not yet recorded are
 * still `pending` in Postgres: the next create must not wait behind them, a drain must not send
 * them twice, and a docker agent's immediate reply must still find its command. Asserted on the
 * database's own evidence: a trigger records every status change.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installCommandAudit, transitions } from "./helpers/command-audit";
import { commandIds, frames, openRawAgent } from "./helpers/raw-agent";
import type { RawAgent } from "./helpers/raw-agent";
import { adminStopSession, eventually, startStack } from "./helpers/stack";
import type { Stack } from "./helpers/stack";

describe("a pushed command's sent record", () => {
  let stack: Stack;
  let adminToken: string;
  const agents: RawAgent[] = [];

  beforeAll(async () => {
    stack = await startStack();
    await installCommandAudit(stack.sql);
    adminToken = await stack.token("ops", true);
  }, 120_000);
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await stack?.stop();
  });

  async function row(commandId: string) {
    const { rows } = await stack.sql.query(`select * from agent_commands where command_id = $1`, [commandId]);
    return rows[0];
  }

  const adminCommand = (agentId: string, sessionId: string) => adminStopSession(stack, adminToken, agentId, sessionId);

  async function frameFor(agent: RawAgent, commandId: string) {
    await eventually(`the frame of ${commandId}`, async () => (commandIds(agent).includes(commandId) ? true : undefined));
  }

  /** An online agent whose connect drain is over, so new commands take the push. */
  async function connected(agentId: string, platform?: string): Promise<RawAgent> {
    const key = await stack.makeAgent(agentId, platform);
    const agent = await openRawAgent(stack.wsUrl, agentId, key);
    agents.push(agent);
    const first = await adminCommand(agentId, `${agentId}-warm-up`);
    await frameFor(agent, first);
    return agent;
  }

  it("lets an immediate ack record the delivery (pending → ack), and records an unanswered one within 2 s (pending → sent)", async () => {
    const agent = await connected("rec-k8s");
    // Another agent's queue is not this agent's: its pending command must not stop the push.
    await stack.makeAgent("rec-offline");
    await stack.sql.query(`insert into agent_commands (command_id, agent_id, action, payload) values ('rec-elsewhere', 'rec-offline', 'stop_session', '{}')`);
    // Acked the moment it arrives, as k8s-agent acks a command when it starts it (its frame can
    // arrive before the API's answer, so it is told apart by its session).
    agent.ws.on("message", (data) => {
      const msg = JSON.parse(data.toString()) as { type: string; payload: { commandId: string; payload: { sessionId?: string } } };
      if (msg.type === "command" && msg.payload.payload.sessionId === "s-answered") agent.send(frames.ack(msg.payload.commandId));
    });
    const answered = await adminCommand("rec-k8s", "s-answered");
    await eventually("the ack stored", async () => ((await row(answered))?.status === "ack" ? true : undefined));

    const unanswered = await adminCommand("rec-k8s", "s-unanswered");
    const recorded = await eventually("the unanswered command recorded", async () => {
      const r = await row(unanswered);
      return r?.status === "sent" ? r : undefined;
    }, 2_000);
    expect(recorded.sent_at.getTime() - recorded.created_at.getTime()).toBeLessThan(2_000);

    // The unanswered command's record came after the answered one's ack: had the answered one
    // been recorded separately, it would show by now.
    expect(await transitions(stack.sql, [answered])).toEqual([{ commandId: answered, from: "pending", to: "ack", attempts: 1 }]);
    expect(await transitions(stack.sql, [unanswered])).toEqual([{ commandId: unanswered, from: "pending", to: "sent", attempts: 1 }]);
    const ack = await row(answered);
    expect(ack.sent_at).not.toBeNull();
    expect(ack.sent_at.getTime()).toBeLessThanOrEqual(ack.acknowledged_at.getTime());
  });

  it("pushes commands created behind unrecorded ones, and a drain sends none of them twice, all in order", async () => {
    const agent = await connected("rec-order");
    const a = await adminCommand("rec-order", "s-a"); // pushed; its record waits
    // Written behind the API's back: not pushed, so the next create must drain, not push past it.
    await stack.sql.query(`insert into agent_commands (command_id, agent_id, action, payload) values ('rec-by-hand', 'rec-order', 'stop_session', '{}')`);
    const c = await adminCommand("rec-order", "s-c");
    const d = await adminCommand("rec-order", "s-d");
    await frameFor(agent, d);
    expect(commandIds(agent).slice(1)).toEqual([a, "rec-by-hand", c, d]);
    for (const id of [a, "rec-by-hand", c, d]) {
      await eventually(`${id} recorded`, async () => ((await row(id))?.status === "sent" ? true : undefined), 2_000);
      expect(await transitions(stack.sql, [id])).toEqual([{ commandId: id, from: "pending", to: "sent", attempts: 1 }]);
    }
  });

  it("records what was pushed before it applies a docker agent's immediate reply, so the reply finds its command", async () => {
    const agent = await connected("rec-docker", "docker");
    // docker-agent never acks; stopping a container it does not have fails at once.
    agent.ws.on("message", (data) => {
      const msg = JSON.parse(data.toString()) as { type: string; payload: { payload: { sessionId: string } } };
      if (msg.type !== "command") return;
      const sessionId = msg.payload.payload.sessionId;
      agent.send({
        type: "command_response",
        success: false,
        sessionId,
        error: `Container not found: container not found for session: ${sessionId}`,
        timestamp: Math.floor(Date.now() / 1000),
      });
    });
    const id = await adminCommand("rec-docker", "s-docker");
    const failed = await eventually("the reply applied", async () => {
      const r = await row(id);
      return r?.status === "failed" ? r : undefined;
    });
    expect(failed.error_message).toBe("Container not found: container not found for session: s-docker");
    expect(failed.sent_at).not.toBeNull();
    expect((await transitions(stack.sql, [id])).map((t) => t.to)).toEqual(["sent", "failed"]);
  });
});
