/**
 * A pushed command's batched `sent` record can still be running when the agent's socket is
 * replaced. The new socket's connect work re-queues what earlier sockets left unacknowledged; had
 * it run first, the record would commit afterwards and leave the command `sent` to a socket that is
 * gone, out of the queue until its ack lease ran out, and overtaken by newer commands. The record
 * is held in flight here by a row lock the test takes, so the interleaving is the same every run.
 * That needs a server with concurrent sessions: embedded PGlite lets one transaction through at a
 * time, so one the test holds open would stop everything else.
 */
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { realPostgresAvailable } from "../../src/local/local-postgres";
import { commandIds, frames, openRawAgent } from "./helpers/raw-agent";
import type { RawAgent } from "./helpers/raw-agent";
import { adminStopSession, eventually, startStack } from "./helpers/stack";
import type { Stack } from "./helpers/stack";

/** How long the connect work is given to show itself while the record is held. */
const CONNECT_WORK_WINDOW_MS = 1_000;

const realPostgres = await realPostgresAvailable();

describe.skipIf(!realPostgres)("a record in flight when the agent reconnects", () => {
  let stack: Stack;
  let adminToken: string;
  const agents: RawAgent[] = [];
  let lock: pg.PoolClient | undefined;

  beforeAll(async () => {
    stack = await startStack();
    adminToken = await stack.token("ops", true);
  }, 120_000);
  afterAll(async () => {
    await lock?.query("rollback").catch(() => {});
    lock?.release();
    // The replaced socket's close never completes from the client's side: end both outright.
    for (const a of agents) a.ws.terminate();
    await stack?.stop();
  });

  const adminCommand = (agentId: string, sessionId: string) => adminStopSession(stack, adminToken, agentId, sessionId);

  async function open(agentId: string, key: string): Promise<RawAgent> {
    const agent = await openRawAgent(stack.wsUrl, agentId, key);
    agents.push(agent);
    return agent;
  }

  async function status(commandId: string): Promise<string | undefined> {
    const { rows } = await stack.sql.query(`select status from agent_commands where command_id = $1`, [commandId]);
    return rows[0]?.status;
  }

  async function lastHeartbeat(agentId: string): Promise<number> {
    const { rows } = await stack.sql.query(`select last_heartbeat from agents where agent_id = $1`, [agentId]);
    return (rows[0].last_heartbeat as Date).getTime();
  }

  it("re-queues the command only after the record commits, so the new socket receives it before newer ones", async () => {
    const agentId = "inflight-agent";
    const key = await stack.makeAgent(agentId);
    const first = await open(agentId, key);
    // Once this frame arrives, the connect drain is over and new commands take the push.
    const warmUp = await adminCommand(agentId, "s-warm-up");
    await eventually("the warm-up frame", async () => (commandIds(first).includes(warmUp) ? true : undefined));
    // Acknowledged, so it is not redelivered on the next socket.
    first.send(frames.ack(warmUp));
    await eventually("the warm-up acknowledged", async () => ((await status(warmUp)) === "ack" ? true : undefined));

    lock = await stack.sql.connect();
    await lock.query("begin");
    const pushed = await adminCommand(agentId, "s-pushed");
    // Taken before the record's 0.5 s delay runs out: the record will wait for it.
    const { rows } = await lock.query(`select status from agent_commands where command_id = $1 for update`, [pushed]);
    expect(rows[0].status).toBe("pending");
    await eventually("the record waiting for the lock", async () => {
      const waiting = await stack.sql.query(
        `select 1 from pg_stat_activity where wait_event_type = 'Lock' and query ilike 'update "agent_commands"%'`,
      );
      return waiting.rowCount ? true : undefined;
    });
    expect(commandIds(first)).toContain(pushed);

    const before = await lastHeartbeat(agentId);
    // Open means the object has accepted it, replaced the first and started its drain.
    const second = await open(agentId, key);
    // The connect work marks the agent online (last_heartbeat) in the statement that re-queues.
    const connectWorkRan = await eventually(
      "the connect work",
      async () => ((await lastHeartbeat(agentId)) > before ? true : undefined),
      CONNECT_WORK_WINDOW_MS,
    ).catch(() => false);
    expect(connectWorkRan).toBe(false);
    const newer = await adminCommand(agentId, "s-newer");

    await lock.query("rollback");
    lock.release();
    lock = undefined;
    await eventually("both commands on the new socket", async () => (commandIds(second).includes(newer) ? true : undefined));
    expect(commandIds(second)).toEqual([pushed, newer]);
    expect(await status(pushed)).toBe("sent");
  });
});
