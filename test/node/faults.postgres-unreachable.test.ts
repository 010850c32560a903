/**
 * Fault: the Worker loses Postgres. The stack closes the WebSocket→TCP proxy the Neon driver
 * goes through (`stack.dbDown(mode)`), so every query from the API and from the Durable Objects
 * fails, while this test's own `pg` pool, connected directly, keeps reading the truth. Then
 * `stack.dbUp()` brings the proxy back on the same port. Three outages, each through every case:
 * "unreachable" (nothing listens: the driver's WebSocket never opens, as when Neon's endpoint
 * cannot be reached), "refusing" (the WebSocket opens and is closed at once, as by a proxy whose
 * database is down) and "silent" (connections are taken and never answered, as on a path that
 * drops packets: only the database timeouts end the waits).
 *
 * The Worker's log lines are captured as evidence that a frame or heartbeat really reached the
 * Durable Object while the database was away (not merely after it came back).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ReferenceAgent } from "../../src/local/agent/agent";
import { frames, openRawAgent } from "./helpers/raw-agent";
import type { RawAgent } from "./helpers/raw-agent";
import { eventually, startStack } from "./helpers/stack";
import type { DbOutage, Stack } from "./helpers/stack";
import { captureWorkerLogs } from "./helpers/worker-logs";
import type { WorkerLogCapture } from "./helpers/worker-logs";

const FAST = { workMs: 20, heartbeatMs: 1000, approvalPollMs: 200, backoff: { minMs: 50, maxMs: 200 } };
/** The DO's retries back off from 250 ms to 15 s: one full cap plus slack. */
const RETRY_WINDOW_MS = 30_000;

const OUTAGES: DbOutage[] = ["unreachable", "refusing", "silent"];
/** Short database timeouts, so a silent database is found gone in seconds (production: 30 s and 60 s). */
const TIMEOUTS = { DB_CONNECT_TIMEOUT_SECONDS: "3", DB_STATEMENT_TIMEOUT_SECONDS: "5" };
/** How long the DO takes to find a silent database gone: the 3 s connect timeout, plus slack. */
const SILENT_WAIT_MS = 15_000;

describe("the Worker cut off from Postgres", () => {
  let stack: Stack;
  let logs: WorkerLogCapture;
  const agents: ReferenceAgent[] = [];
  const sockets: RawAgent[] = [];

  beforeAll(async () => {
    stack = await startStack({ vars: TIMEOUTS });
    logs = captureWorkerLogs();
    await stack.sql.query(`insert into templates (name, manifest) values ('firefox-browser', '{"spec":{"baseImage":"firefox"}}')`);
  }, 120_000);
  afterEach(async () => {
    await stack.dbUp(); // a failed test must not leave the next one without a database
    // Only the next test's agents may be online: session creates pick any online agent.
    await Promise.all([...agents.splice(0).map((a) => a.stop()), ...sockets.splice(0).map((s) => s.close())]);
  });
  afterAll(async () => {
    logs?.stop();
    await stack?.stop();
  });

  async function status(commandId: string) {
    const { rows } = await stack.sql.query(`select * from agent_commands where command_id = $1`, [commandId]);
    return rows[0];
  }

  /**
   * The command's row once it is `completed`, waiting out the DO's retry window. A timeout names
   * what the agent's Durable Object logged, which is all there is to say why.
   */
  async function completed(agentId: string, commandId: string, what: string) {
    try {
      return await eventually(
        what,
        async () => {
          const r = await status(commandId);
          return r.status === "completed" ? r : undefined;
        },
        RETRY_WINDOW_MS,
      );
    } catch (err) {
      const said = logs.lines.filter((l) => l["agentId"] === agentId).map((l) => JSON.stringify(l));
      throw new Error(`${(err as Error).message}; row: ${JSON.stringify(await status(commandId))}; ${agentId} logged:\n${said.join("\n")}`);
    }
  }

  /** Inserts a command old enough for the sweep and runs the sweep, which sends it. */
  async function sendCommand(raw: RawAgent, agentId: string, commandId: string) {
    await stack.sql.query(
      `insert into agent_commands (command_id, agent_id, action, payload, created_at)
       values ($1, $2, 'stop_session', $3, now() - interval '1 minute')`,
      [commandId, agentId, JSON.stringify({ sessionId: `s-${commandId}` })],
    );
    await stack.worker.sweep();
    await eventually(`${commandId} received`, async () =>
      raw.received.some((m) => m.type === "command" && m.payload?.commandId === commandId) ? true : undefined,
    );
    expect((await status(commandId)).status).toBe("sent");
  }

  async function connectRaw(agentId: string, key?: string): Promise<RawAgent> {
    const raw = await openRawAgent(stack.wsUrl, agentId, key ?? (await stack.makeAgent(agentId)));
    sockets.push(raw);
    await eventually(`${agentId} online`, async () => {
      const { rows } = await stack.sql.query(`select status from agents where agent_id = $1`, [agentId]);
      return rows[0]?.status === "online" ? true : undefined;
    });
    return raw;
  }

  /** The frame the DO kept for a retry, or a failure naming the frame it dropped instead. */
  async function keptNotDropped(agentId: string, type: string, timeoutMs?: number) {
    const seen = await eventually(
      `${type} from ${agentId} kept for retry`,
      async () =>
        logs.find(
          (l) =>
            l["agentId"] === agentId &&
            (l.msg === "database unavailable: frame kept for retry" || l.msg === "AgentObject webSocketMessage failed"),
        ),
      timeoutMs,
    );
    // "webSocketMessage failed" means the frame was thrown away, not kept: the agent's answer is lost.
    expect(seen, `the DO dropped the ${type} frame instead of keeping it: ${JSON.stringify(seen)}`).toMatchObject({
      msg: "database unavailable: frame kept for retry",
      type,
    });
  }

  describe.each(OUTAGES)("when the database is %s", (outage) => {
    const id = (name: string) => `pg-${outage}-${name}`;
    const silent = outage === "silent";

    it("answers a session create with 503 'unavailable' and writes nothing; the same create works once it is back", async () => {
      const agentId = id("create");
      const apiKey = await stack.makeAgent(agentId);
      const agent = new ReferenceAgent({ agentId, apiKey, url: stack.wsUrl, ...FAST });
      agents.push(agent);
      agent.start();
      await agent.waitForState("connected");
      await eventually(`${agentId} online`, async () => {
        const { rows } = await stack.sql.query(`select status from agents where agent_id = $1`, [agentId]);
        return rows[0]?.status === "online" ? true : undefined;
      });
      const user = `erin-${outage}`;
      const token = await stack.token(user);
      const body = { user, template: "firefox-browser" };
      const written = async () => {
        const { rows } = await stack.sql.query(
          `select (select count(*)::int from sessions where user_id = $1) as sessions,
                  (select count(*)::int from agent_commands where payload->>'user' = $1) as commands`,
          [user],
        );
        return rows[0] as { sessions: number; commands: number };
      };

      await stack.dbDown(outage);
      const refused = await stack.api("POST", "/api/v1/sessions", { token, body });
      await stack.dbUp();
      expect(refused.status, JSON.stringify(refused.body)).toBe(503);
      expect(refused.body).toMatchObject({ code: "unavailable", error: "Service unavailable", requestId: expect.any(String) });
      expect(await written()).toEqual({ sessions: 0, commands: 0 });

      const created = await stack.api("POST", "/api/v1/sessions", { token, body });
      expect(created.status).toBe(202);
      expect(await written()).toEqual({ sessions: 1, commands: 1 });
      await eventually("the start completed", async () => {
        const { rows } = await stack.sql.query(`select status from agent_commands where session_id = $1`, [created.body.name]);
        return rows[0]?.status === "completed" ? true : undefined;
      });
    }, 60_000);

    it("keeps an ack and a complete that arrive meanwhile, and its alarm applies them in order once it is back", async () => {
      const agentId = id("frames");
      const commandId = `cmd-${agentId}`;
      const raw = await connectRaw(agentId);
      await sendCommand(raw, agentId, commandId);

      await stack.dbDown(outage);
      raw.send(frames.ack(commandId));
      raw.send(frames.complete(commandId, { sessionId: `s-${commandId}`, state: "terminated", marker: "kept" }));
      // Evidence that the DO got the frames while the database was away: the first is logged as
      // kept; the complete behind it joins the same outbox without a log line of its own.
      await keptNotDropped(agentId, "ack", silent ? SILENT_WAIT_MS : undefined);
      const downSince = Date.now();
      // Down long enough for the complete to arrive and a few alarm retries to fail.
      await eventually("1.5 s of outage", async () => (Date.now() - downSince >= 1500 ? true : undefined));
      expect((await status(commandId)).status).toBe("sent"); // nothing reached Postgres
      expect(raw.closed).toBeNull(); // the outage did not cost the agent its socket

      await stack.dbUp();
      // The raw agent sends nothing more: only the DO's alarm-driven retry can apply the frames.
      const row = await completed(agentId, commandId, "completed after the database came back");
      expect(row.result).toEqual({ sessionId: `s-${commandId}`, state: "terminated", marker: "kept" });
      expect(row.acknowledged_at).not.toBeNull(); // the ack was applied too, and first
      expect(new Date(row.acknowledged_at).getTime()).toBeLessThanOrEqual(new Date(row.completed_at).getTime());
      expect(raw.closed).toBeNull();
    }, 90_000);

    it("applies a complete that arrived meanwhile even after the agent hung up", async () => {
      const agentId = id("hangup");
      const commandId = `cmd-${agentId}`;
      const raw = await connectRaw(agentId);
      await sendCommand(raw, agentId, commandId);

      await stack.dbDown(outage);
      raw.send(frames.ack(commandId));
      raw.send(frames.complete(commandId, { sessionId: `s-${commandId}`, state: "terminated" }));
      await keptNotDropped(agentId, "ack", silent ? SILENT_WAIT_MS : undefined);
      const downSince = Date.now();
      await eventually("0.5 s of outage", async () => (Date.now() - downSince >= 500 ? true : undefined));
      await raw.close();
      expect((await status(commandId)).status).toBe("sent");
      await stack.dbUp();

      const row = await completed(agentId, commandId, "completed with no agent connected");
      expect(row.result).toEqual({ sessionId: `s-${commandId}`, state: "terminated" });
    }, 60_000);

    it("takes heartbeats that need a write meanwhile without closing the socket, then delivers on it", async () => {
      const agentId = id("heartbeat");
      const raw = await connectRaw(agentId);
      await stack.dbDown(outage);
      // A new capacity forces a Postgres write on every one of these heartbeats.
      for (let i = 1; i <= 3; i++) raw.send(frames.heartbeat({ maxSessions: i, cpu: "4", memory: "8Gi" }));
      await eventually(
        "a heartbeat write failed inside the DO",
        async () => (logs.find((l) => l.msg === "AgentObject heartbeat write failed" && l["agentId"] === agentId) ? true : undefined),
        silent ? SILENT_WAIT_MS : undefined,
      );
      // A protocol ping round trip: the socket is alive after the failed writes.
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no pong within 5 s")), 5000);
        raw.ws.once("pong", () => (clearTimeout(timer), resolve()));
        raw.ws.ping();
      });
      expect(raw.closed).toBeNull();
      await stack.dbUp();

      raw.send(frames.heartbeat({ maxSessions: 7, cpu: "4", memory: "8Gi" }));
      await eventually("the capacity written once it is back", async () => {
        const { rows } = await stack.sql.query(`select capacity from agents where agent_id = $1`, [agentId]);
        return rows[0]?.capacity?.maxSessions === 7 ? true : undefined;
      });
      await sendCommand(raw, agentId, `cmd-${agentId}`); // same socket, still delivering
      expect(raw.closed).toBeNull();
    }, 60_000);
  });

  it("applies frames kept during an outage after the agent reconnects, with nothing more from the agent", async () => {
    const agentId = "pg-reconnect";
    const commandId = `cmd-${agentId}`;
    const key = await stack.makeAgent(agentId);
    const raw = await connectRaw(agentId, key);
    await sendCommand(raw, agentId, commandId);

    await stack.dbDown("refusing");
    raw.send(frames.ack(commandId));
    raw.send(frames.complete(commandId, { sessionId: `s-${commandId}`, state: "terminated" }));
    await keptNotDropped(agentId, "ack");
    // Long enough for the object's retries to back off to seconds apart, so the agent's new socket
    // (right after the database is back) most likely comes before the next retry: the socket must
    // not cancel it, since the new socket sends nothing that would apply the kept frames.
    const since = Date.now();
    await eventually("8 s of outage", async () => (Date.now() - since >= 8000 ? true : undefined), 15_000);
    await stack.dbUp();
    const again = await openRawAgent(stack.wsUrl, agentId, key);
    sockets.push(again);

    const row = await completed(agentId, commandId, "completed after the reconnect");
    expect(row.result).toEqual({ sessionId: `s-${commandId}`, state: "terminated" });
  }, 90_000);

  it("keeps frames it already holds when the outage turns from refusing to unreachable", async () => {
    const agentId = "pg-switch";
    const commandId = `cmd-${agentId}`;
    const raw = await connectRaw(agentId);
    await sendCommand(raw, agentId, commandId);

    await stack.dbDown("refusing");
    raw.send(frames.ack(commandId));
    raw.send(frames.complete(commandId, { sessionId: `s-${commandId}`, state: "terminated" }));
    await keptNotDropped(agentId, "ack");
    // Now nothing answers at all: the alarm's retries of the kept frames meet an unreachable endpoint.
    await stack.dbDown("unreachable");
    const since = Date.now();
    await eventually("2 s of unreachable database", async () => (Date.now() - since >= 2000 ? true : undefined));
    const dropped = logs.find((l) => l["agentId"] === agentId && l.msg === "AgentObject dropped a kept frame the database refuses");
    expect(dropped, `a kept frame was thrown away during the outage: ${JSON.stringify(dropped)}`).toBeUndefined();
    await stack.dbUp();

    const row = await completed(agentId, commandId, "completed after the database came back");
    expect(row.result).toEqual({ sessionId: `s-${commandId}`, state: "terminated" });
  }, 60_000);
});
