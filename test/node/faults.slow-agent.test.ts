/**
 * Fault: a connected agent that is slower than the ack lease. Agents run commands one at a time,
 * so a command queued behind others, or one whose agent never sends `ack` (docker-agent), cannot
 * be acknowledged within ACK_LEASE_SECONDS of being sent. The sweep must not take such a command
 * away from an agent that is working through it, and above all must not end it `failed` while
 * the agent then completes it.
 *
 * A 1 s ack lease and max_attempts=2 make each case take seconds; the production values (60 s
 * ack lease, 5 attempts, a sweep a minute) only make the same sequence slower. (The commands are
 * written by hand, so their max_attempts column is set here; MAX_ATTEMPTS applies to API creates.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReferenceAgent } from "../../src/local/agent/agent";
import { installCommandAudit, transitions } from "./helpers/command-audit";
import { frames, openRawAgent } from "./helpers/raw-agent";
import type { RawAgent } from "./helpers/raw-agent";
import { eventually, startStack } from "./helpers/stack";
import type { Stack } from "./helpers/stack";

const ACK_LEASE_SECONDS = 1;
const MAX_ATTEMPTS = 2;

describe("a connected agent slower than the ack lease", () => {
  let stack: Stack;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    stack = await startStack({
      vars: { ACK_LEASE_SECONDS: String(ACK_LEASE_SECONDS), RUN_LEASE_SECONDS: "60", MAX_ATTEMPTS: String(MAX_ATTEMPTS) },
    });
    await installCommandAudit(stack.sql);
  }, 120_000);
  afterAll(async () => {
    await Promise.all(cleanups.map((c) => c()));
    await stack?.stop();
  });

  async function row(commandId: string) {
    const { rows } = await stack.sql.query(`select * from agent_commands where command_id = $1`, [commandId]);
    return rows[0];
  }

  /** The sweep as the cron runs it, with the redelivery backoff skipped (next_attempt_at). */
  async function sweep() {
    await stack.worker.sweep();
    await stack.sql.query(`update agent_commands set next_attempt_at = now() where status = 'pending' and next_attempt_at > now()`);
  }

  /** Lets `ms` pass (bounded, no bare sleep), running the sweep as it goes. */
  async function sweepFor(ms: number) {
    const until = Date.now() + ms;
    await eventually(`${ms} ms of sweeps`, async () => {
      await sweep();
      return Date.now() >= until ? true : undefined;
    });
  }

  it("k8s dialect: a command queued behind others is not failed while the agent works through the queue", async () => {
    const agentId = "slow-k8s";
    const key = await stack.makeAgent(agentId);
    const ids = ["q1", "q2", "q3"].map((q) => `${agentId}-${q}`);
    await stack.sql.query(
      `insert into agent_commands (command_id, agent_id, action, payload, created_at, max_attempts)
       select id, $2, 'stop_session', jsonb_build_object('sessionId', 's-' || id), now() - interval '1 minute' + n * interval '1 ms', $3
       from unnest($1::text[]) with ordinality as t(id, n)`,
      [ids, agentId, MAX_ATTEMPTS],
    );
    const raw: RawAgent = await openRawAgent(stack.wsUrl, agentId, key);
    cleanups.push(() => raw.close());
    await eventually("all three sent", async () => (raw.received.filter((m) => m.type === "command").length === 3 ? true : undefined));

    // The agent works like k8s-agent: one command at a time, ack when it starts, complete when
    // done, then straight on to the next. Each command takes longer than the ack lease.
    for (const id of ids) {
      raw.send(frames.ack(id));
      // Acknowledged, unless the sweep already failed it (then the ack changes nothing).
      await eventually(`${id} acknowledged`, async () => (["ack", "failed"].includes((await row(id)).status) ? true : undefined));
      await sweepFor(ACK_LEASE_SECONDS * 1000 + 300); // the work; the cron keeps running meanwhile
      raw.send(frames.complete(id, { sessionId: `s-${id}`, state: "terminated" }));
      await eventually(`${id} settled`, async () => (["completed", "failed"].includes((await row(id)).status) ? true : undefined));
      // The sweep runs between one command's complete and the next command's ack reaching
      // Postgres: a moment that comes after every command.
      await sweep();
    }

    const final = await Promise.all(ids.map(row));
    const history = await transitions(stack.sql, ids);
    console.log(
      `[slow k8s] ${final.map((r) => `${r.command_id}: ${r.status} after ${r.attempts} deliveries${r.error_message ? ` (${r.error_message})` : ""}`).join("; ")}\n` +
        `  history: ${history.map((t) => `${t.commandId.slice(-2)} ${t.from}→${t.to}`).join(", ")}`,
    );
    // The agent acknowledged and completed every one of them, in order, on a socket that never dropped.
    expect(final.map((r) => [r.command_id, r.status])).toEqual(ids.map((id) => [id, "completed"]));
  }, 60_000);

  it("docker dialect (no ack): a command that runs longer than the ack lease is not failed while the agent runs it", async () => {
    const agentId = "slow-docker";
    const apiKey = await stack.makeAgent(agentId, "docker");
    const commandId = `${agentId}-start`;
    let response: unknown;
    const agent = new ReferenceAgent({
      agentId,
      apiKey,
      url: stack.wsUrl,
      dialect: "docker",
      workMs: 4000, // an image pull: longer than the ack lease, well within the run lease
      heartbeatMs: 1000,
      backoff: { minMs: 50, maxMs: 200 },
      onFrameSent: (f) => f.type === "command_response" && (response = f),
    });
    cleanups.push(() => agent.stop());
    agent.start();
    await agent.waitForState("connected");
    await stack.sql.query(
      `insert into agent_commands (command_id, agent_id, session_id, action, payload, created_at, max_attempts)
       values ($1, $2, 's-docker-slow', 'start_session', $3, now() - interval '1 minute', $4)`,
      [
        commandId,
        agentId,
        JSON.stringify({ sessionId: "s-docker-slow", user: "u", templateManifest: { metadata: { name: "t" }, spec: { baseImage: "x" } } }),
        MAX_ATTEMPTS,
      ],
    );

    // The cron keeps running while the agent starts the container; then it answers.
    await eventually(
      "the agent's command_response",
      async () => {
        await sweep();
        return response ? true : undefined;
      },
      15_000,
    );
    expect(response).toMatchObject({ type: "command_response", success: true, sessionId: "s-docker-slow" });
    const settled = await eventually("the command settled", async () => {
      const r = await row(commandId);
      return ["completed", "failed"].includes(r.status) ? r : undefined;
    });
    const history = await transitions(stack.sql, [commandId]);
    console.log(
      `[slow docker] ${commandId}: ${settled.status} after ${settled.attempts} deliveries` +
        `${settled.error_message ? ` (${settled.error_message})` : ""}; history: ${history.map((t) => `${t.from}→${t.to}`).join(", ")}`,
    );
    expect(settled).toMatchObject({ status: "completed", result: { sessionId: "s-docker-slow", state: "running" } });
  }, 60_000);
});
