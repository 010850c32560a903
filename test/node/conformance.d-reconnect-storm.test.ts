/**
 * Checklist D under load: 500 agents (reference agents, real WebSockets) connect at once, then
 * all lose their sockets together (a deploy restarts every Durable Object) and reconnect at
 * once. Every agent must come back online and receive its pending commands.
 */
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReferenceAgent } from "../../src/local/agent/agent";
import { realPostgresAvailable } from "../../src/local/local-postgres";
import { eventually, startStack } from "./helpers/stack";
import type { Stack } from "./helpers/stack";

// Embedded PGlite is one Postgres session for everything: 500 agents would only measure its queue.
const AGENTS = Number(process.env["STORM_AGENTS"] ?? ((await realPostgresAvailable()) ? 500 : 100));
const STORM_TIMEOUT_MS = 120_000;

describe(`a reconnect storm of ${AGENTS} agents`, () => {
  let stack: Stack;
  const agents: ReferenceAgent[] = [];

  beforeAll(async () => {
    // Every agent comes from 127.0.0.1 here: the per-IP limit would (rightly) throttle them.
    stack = await startStack({ vars: { RATE_LIMIT_ENABLED: "false" } });
    const rows: string[] = [];
    const params: string[] = [];
    for (let i = 0; i < AGENTS; i++) {
      const key = randomBytes(32).toString("hex");
      agents.push(
        new ReferenceAgent({
          agentId: `storm-${i}`,
          apiKey: key,
          url: stack.wsUrl,
          workMs: 5,
          heartbeatMs: 20_000,
          backoff: { minMs: 100, maxMs: 3000 },
        }),
      );
      params.push(`storm-${i}`, `sha256:${createHash("sha256").update(key).digest("hex")}`);
      rows.push(`($${params.length - 1}, 'kubernetes', 'approved', $${params.length})`);
    }
    await stack.sql.query(`insert into agents (agent_id, platform, approval_status, api_key_hash) values ${rows.join(",")}`, params);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await stack?.stop();
  });

  async function enqueueOneEach(round: string) {
    await stack.sql.query(
      `insert into agent_commands (command_id, agent_id, action, payload)
       select 'cmd-${round}-' || agent_id, agent_id, 'stop_session', jsonb_build_object('sessionId', 's-' || agent_id)
       from agents where agent_id like 'storm-%'`,
    );
  }

  async function waitAllCompleted(round: string) {
    return eventually(
      `${AGENTS} ${round} commands completed`,
      async () => {
        const { rows } = await stack.sql.query(
          `select count(*) filter (where status = 'completed')::int as done, count(*)::int as total
           from agent_commands where command_id like $1`,
          [`cmd-${round}-%`],
        );
        return rows[0].done === AGENTS ? rows[0] : undefined;
      },
      STORM_TIMEOUT_MS,
    );
  }

  async function waitAllOnline() {
    return eventually(
      `${AGENTS} agents online`,
      async () => {
        const { rows } = await stack.sql.query(`select count(*)::int as n from agents where status = 'online' and agent_id like 'storm-%'`);
        return rows[0].n === AGENTS ? true : undefined;
      },
      STORM_TIMEOUT_MS,
    );
  }

  it("brings every agent online and delivers every pending command, twice over", async () => {
    await enqueueOneEach("first");
    let started = Date.now();
    for (const a of agents) a.start();
    await waitAllOnline();
    await waitAllCompleted("first");
    const firstMs = Date.now() - started;

    // A deploy: every socket drops at once; commands queued meanwhile wait for the reconnect.
    await stack.restartWorker();
    await enqueueOneEach("second");
    started = Date.now();
    await waitAllOnline();
    await waitAllCompleted("second");
    const secondMs = Date.now() - started;

    const { rows } = await stack.sql.query(
      `select count(*)::int as n from agent_commands where agent_id like 'storm-%' and status <> 'completed'`,
    );
    expect(rows[0].n).toBe(0);
    const reconnects = agents.reduce((sum, a) => sum + a.stats().connects, 0);
    expect(reconnects).toBeGreaterThanOrEqual(2 * AGENTS);
    console.log(
      `[storm] ${AGENTS} agents: first connect + delivery ${firstMs} ms; reconnect storm + delivery ${secondMs} ms; ` +
        `${reconnects} connects in all`,
    );
  }, 2 * STORM_TIMEOUT_MS + 60_000);
});
