/**
 * Fault: the Worker runtime restarts (as on every deploy) while commands are in flight: some
 * completed, one being run (`ack`), some sent and waiting in the agent's queue, some still
 * pending. Durable Object storage persists across the restart, as it does in production. The
 * agent reconnects by itself; with the sweep's help every command must end `completed`, once.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReferenceAgent } from "../../src/local/agent/agent";
import { auditViolations, installCommandAudit } from "./helpers/command-audit";
import { eventually, startStack } from "./helpers/stack";
import type { Stack } from "./helpers/stack";

const AGENT = "restart-agent";
const SENT_FIRST = 20;
const PENDING_LATER = 10;
const LEASE_SECONDS = 2;

describe("the Worker runtime restarted with commands in flight", () => {
  let stack: Stack;
  let apiKey: string;
  let persistDir: string;
  let agent: ReferenceAgent | undefined;

  beforeAll(async () => {
    persistDir = fs.mkdtempSync(path.join(os.tmpdir(), "edge-dispatch-restart-"));
    stack = await startStack({
      persistDir,
      vars: { ACK_LEASE_SECONDS: String(LEASE_SECONDS), RUN_LEASE_SECONDS: String(LEASE_SECONDS) },
    });
    await installCommandAudit(stack.sql);
    apiKey = await stack.makeAgent(AGENT);
  }, 120_000);
  afterAll(async () => {
    await agent?.stop();
    await stack?.stop();
    fs.rmSync(persistDir, { recursive: true, force: true });
  });

  async function insert(prefix: string, count: number) {
    const ids = Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(2, "0")}`);
    await stack.sql.query(
      `insert into agent_commands (command_id, agent_id, action, payload, created_at)
       select id, $2, 'stop_session', jsonb_build_object('sessionId', 's-' || id), clock_timestamp()
       from unnest($1::text[]) with ordinality as t(id, n) order by n`,
      [ids, AGENT],
    );
    return ids;
  }

  async function statusCounts(): Promise<Record<string, number>> {
    const { rows } = await stack.sql.query(`select status, count(*)::int as n from agent_commands group by status`);
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  it("loses nothing: every command completes exactly once after the restart", async () => {
    const sentIds = await insert("early", SENT_FIRST);
    let connects = 0;
    agent = new ReferenceAgent({
      agentId: AGENT,
      apiKey,
      url: stack.wsUrl,
      workMs: 300, // slow enough that most of the queue is still waiting when the runtime goes
      heartbeatMs: 1000,
      backoff: { minMs: 50, maxMs: 300 },
      onStateChange: (s) => s === "connected" && connects++,
    });
    agent.start();

    // The connect drain sends all of them; the agent runs them one at a time.
    await eventually("a few completed and one running", async () => {
      const c = await statusCounts();
      return (c["completed"] ?? 0) >= 3 && c["ack"] === 1 ? c : undefined;
    });
    // Written by hand while the runtime is up: nothing delivers them before the restart (no fast
    // path for SQL inserts, and no sweep runs).
    const pendingIds = await insert("late", PENDING_LATER);
    const before = await statusCounts();
    expect(before["pending"]).toBe(PENDING_LATER);
    expect(before["sent"]).toBeGreaterThan(0);
    expect(before["ack"]).toBe(1);

    await stack.restartWorker();

    const rows = await eventually(
      `all ${SENT_FIRST + PENDING_LATER} completed`,
      async () => {
        await stack.worker.sweep();
        // Re-queued commands wait a 2.5–5 s backoff (next_attempt_at) first: skip the wait.
        await stack.sql.query(`update agent_commands set next_attempt_at = now() where status = 'pending' and next_attempt_at > now()`);
        const { rows } = await stack.sql.query(`select command_id, status, attempts from agent_commands order by created_at, seq`);
        return rows.every((r) => r.status === "completed") ? rows : undefined;
      },
      45_000,
    );

    expect(rows.map((r) => r.command_id)).toEqual([...sentIds, ...pendingIds]);
    expect(await auditViolations(stack.sql)).toEqual([]);
    const { rows: completions } = await stack.sql.query(
      `select count(*)::int as n, count(distinct command_id)::int as distinct_ids from test_command_audit where to_status = 'completed'`,
    );
    expect(completions[0]).toEqual({ n: SENT_FIRST + PENDING_LATER, distinct_ids: SENT_FIRST + PENDING_LATER });
    expect(connects).toBeGreaterThanOrEqual(2); // it came back by itself
    const stats = agent.stats();
    // Like the real agents, this one runs a command again when it is delivered again (the ones it
    // had queued when the runtime went are re-queued and re-sent): every command ran at least once,
    // and no more often than it was delivered; Postgres completed each exactly once (above).
    const attempts = rows.reduce((sum, r) => sum + r.attempts, 0);
    expect(stats.started).toBeGreaterThanOrEqual(SENT_FIRST + PENDING_LATER);
    expect(stats.started).toBeLessThanOrEqual(attempts);
    console.log(
      `[restart] before: ${JSON.stringify(before)}; after: ${rows.length} completed; connects ${connects}; ` +
        `deliveries ${attempts} (redeliveries ${attempts - rows.length}); agent: started ${stats.started}, duplicates ${stats.duplicates}`,
    );
  }, 60_000);
});
