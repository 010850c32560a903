/**
 * Soak: many agents, many commands, and agents killed at random (no close frame) and replaced
 * by a fresh process with the same id and key, while the cron sweep runs every second. Every
 * command must end `completed`, exactly once in the database.
 *
 * Sized by the environment; the defaults are the CI size (well under a minute here).
 * `npm run soak` runs 10,000 commands over 200 agents.
 *   SOAK_COMMANDS (1000)  SOAK_AGENTS (50)  SOAK_DISCONNECT_EVERY_MS (1000)  SOAK_SEED (1)
 *   SOAK_WORK_MS (5)      SOAK_TIMEOUT_MS (max(45 s, 40 ms per command))
 *   SOAK_ACK_LEASE_SECONDS (5)  SOAK_RUN_LEASE_SECONDS (3): short, so a killed agent's commands
 *   come back within seconds (production: 60 and 900).
 */
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReferenceAgent } from "../../src/local/agent/agent";
import { frameFields } from "../../src/local/agent/dialect";
import type { OutboundFrame } from "../../src/local/agent/dialect";
import { auditViolations, installCommandAudit } from "./helpers/command-audit";
import { eventually, startStack } from "./helpers/stack";
import type { Stack } from "./helpers/stack";

const env = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number`);
  return value;
};
const COMMANDS = env("SOAK_COMMANDS", 1000);
const AGENTS = env("SOAK_AGENTS", 50);
const DISCONNECT_EVERY_MS = env("SOAK_DISCONNECT_EVERY_MS", 1000);
const SEED = env("SOAK_SEED", 1);
const WORK_MS = env("SOAK_WORK_MS", 5);
const TIMEOUT_MS = env("SOAK_TIMEOUT_MS", Math.max(45_000, COMMANDS * 40));
const ACK_LEASE_SECONDS = env("SOAK_ACK_LEASE_SECONDS", 5);
const RUN_LEASE_SECONDS = env("SOAK_RUN_LEASE_SECONDS", 3);
/** Kills stop once this share of the commands completed, so the tail is not all recovery. */
const KILL_UNTIL = 0.95;

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with the same seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe(`soak: ${COMMANDS} commands over ${AGENTS} agents, a random agent killed every ${DISCONNECT_EVERY_MS} ms (seed ${SEED})`, () => {
  let stack: Stack;
  const keys: string[] = [];
  const live: ReferenceAgent[] = [];
  const dead: Promise<void>[] = [];

  beforeAll(async () => {
    // One source address for every agent: the per-IP limit would (rightly) throttle them.
    stack = await startStack({
      vars: { RATE_LIMIT_ENABLED: "false", ACK_LEASE_SECONDS: String(ACK_LEASE_SECONDS), RUN_LEASE_SECONDS: String(RUN_LEASE_SECONDS) },
    });
    await installCommandAudit(stack.sql);
    const rows: string[] = [];
    const params: string[] = [];
    for (let i = 0; i < AGENTS; i++) {
      const key = randomBytes(32).toString("hex");
      keys.push(key);
      params.push(`soak-${i}`, `sha256:${createHash("sha256").update(key).digest("hex")}`);
      rows.push(`($${params.length - 1}, 'kubernetes', 'approved', $${params.length})`);
    }
    await stack.sql.query(`insert into agents (agent_id, platform, approval_status, api_key_hash) values ${rows.join(",")}`, params);
    // Round-robin over the agents, 1 ms apart: creation order is the per-agent delivery order.
    await stack.sql.query(
      `insert into agent_commands (command_id, agent_id, action, payload, created_at)
       select 'soak-cmd-' || lpad(i::text, 6, '0'), 'soak-' || (i % $2), 'stop_session',
              jsonb_build_object('sessionId', 's-' || i), now() - interval '1 minute' + i * interval '1 ms'
       from generate_series(0, $1 - 1) as i`,
      [COMMANDS, AGENTS],
    );
  }, 120_000);

  afterAll(async () => {
    await Promise.all([...live.map((a) => a?.stop()), ...dead]);
    await stack?.stop();
  });

  it("completes every command exactly once", async () => {
    const random = prng(SEED);
    let reportedDone = 0;
    let disconnects = 0;
    /** Per agent id, every start (ack sent) across all its lives, in time order. */
    const starts: string[][] = Array.from({ length: AGENTS }, () => []);

    const spawn = (i: number) => {
      const agent = new ReferenceAgent({
        agentId: `soak-${i}`,
        apiKey: keys[i]!,
        url: stack.wsUrl,
        workMs: WORK_MS,
        heartbeatMs: 10_000,
        backoff: { minMs: 100, maxMs: 2000 },
        onFrameSent: (f: OutboundFrame) => {
          if (f.type === "ack") starts[i]!.push(String(frameFields(f)["commandId"]));
        },
        onCommandDone: () => reportedDone++,
      });
      live[i] = agent;
      agent.start();
    };

    const started = Date.now();
    for (let i = 0; i < AGENTS; i++) spawn(i);

    let completed = 0;
    let stopping = false;
    const killer = setInterval(() => {
      if (stopping || completed >= COMMANDS * KILL_UNTIL) return;
      const i = Math.floor(random() * AGENTS);
      dead.push(live[i]!.kill());
      disconnects++;
      spawn(i); // a restarted process: same id and key, no memory of finished commands
    }, DISCONNECT_EVERY_MS);
    // The cron trigger, once a second instead of once a minute; one run at a time.
    const sweeping = (async () => {
      while (!stopping) {
        await stack.worker.sweep().catch(() => {});
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();

    let counts: Record<string, number> = {};
    try {
      await eventually(
        `all ${COMMANDS} completed`,
        async () => {
          const { rows } = await stack.sql.query(`select status, count(*)::int as n from agent_commands group by status`);
          counts = Object.fromEntries(rows.map((r) => [r.status, r.n]));
          completed = counts["completed"] ?? 0;
          if (counts["failed"] || counts["expired"]) return counts; // fail fast, with the counts
          return completed === COMMANDS ? counts : undefined;
        },
        TIMEOUT_MS,
      );
    } finally {
      stopping = true;
      clearInterval(killer);
      await sweeping;
    }
    const wallMs = Date.now() - started;

    const { rows: agg } = await stack.sql.query(
      `select count(*)::int as n, coalesce(sum(attempts), 0)::int as deliveries, max(attempts)::int as max_attempts
       from agent_commands`,
    );
    const { rows: completions } = await stack.sql.query(
      `select count(*)::int as n, count(distinct command_id)::int as distinct_ids from test_command_audit where to_status = 'completed'`,
    );
    const violations = await auditViolations(stack.sql);
    // First starts per agent, against creation order (ids sort in creation order per agent).
    let outOfOrder = 0;
    for (const list of starts) {
      const first = [...new Set(list)];
      for (let k = 1; k < first.length; k++) if (first[k]! < first[k - 1]!) outOfOrder++;
    }
    const reRuns = starts.reduce((sum, list) => sum + list.length - new Set(list).size, 0);
    const deliveries: number = agg[0].deliveries;
    console.log(
      `[soak] commands ${COMMANDS}, agents ${AGENTS}, seed ${SEED}, leases ack ${ACK_LEASE_SECONDS} s / run ${RUN_LEASE_SECONDS} s, ` +
        `disconnects ${disconnects}, ` +
        `deliveries ${deliveries} (redeliveries ${deliveries - COMMANDS}, max attempts of one command ${agg[0].max_attempts}), ` +
        `completions reported by agents ${reportedDone}, commands run again on a new life ${reRuns}, ` +
        `first starts out of creation order ${outOfOrder}, wall ${(wallMs / 1000).toFixed(1)} s, ` +
        `${((COMMANDS / wallMs) * 1000).toFixed(0)} commands/s; final statuses ${JSON.stringify(counts)}`,
    );

    if (completed !== COMMANDS) {
      const { rows: sample } = await stack.sql.query(
        `select c.command_id, c.agent_id, c.status, c.attempts, c.error_message,
                (select string_agg(a.from_status || '>' || a.to_status, ' ' order by a.n) from test_command_audit a
                 where a.command_id = c.command_id and a.from_status is not null) as history
         from agent_commands c where c.status <> 'completed' order by (c.status = 'failed') desc, c.created_at limit 5`,
      );
      console.log(`[soak] not completed (sample): ${JSON.stringify(sample, null, 1)}`);
    }
    expect(counts).toEqual({ completed: COMMANDS });
    expect(agg[0].n).toBe(COMMANDS);
    expect(violations).toEqual([]);
    expect(completions[0]).toEqual({ n: COMMANDS, distinct_ids: COMMANDS });
    expect(reportedDone).toBeGreaterThanOrEqual(COMMANDS);
  }, TIMEOUT_MS + 60_000);
});
