/**
 * The whole system on this machine for Node-side tests: a real Postgres (the machine's when
 * reachable, else embedded PGlite) with a fresh database from the migrations, the WebSocket
 * proxy, and the Worker in workerd through Miniflare. One stack per test file.
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { Duplex } from "node:stream";
import pg from "pg";
import { WebSocketServer } from "ws";
import { hashAgentKey, newAgentKey } from "../../../src/local/agent-key";
import { apiClient } from "../../../src/local/api-client";
import type { ApiCall } from "../../../src/local/api-client";
import { createScratchDatabase, findPostgres } from "../../../src/local/local-postgres";
import { migrateDatabase } from "../../../src/local/migrate";
import { findPgBouncer, startPgBouncer } from "../../../src/local/pgbouncer";
import { mintToken } from "../../../src/local/token";
import { startLocalWorker } from "../../../src/local/worker-runtime";
import type { LocalWorker } from "../../../src/local/worker-runtime";
import { startWsProxy } from "../../../src/local/ws-proxy";
import type { WsProxy } from "../../../src/local/ws-proxy";

export type DbOutage = "unreachable" | "refusing" | "silent";

export const JWT_SECRET = "node-test-jwt-secret-0123456789";
export const BOOTSTRAP_KEY = "d".repeat(64);

export type Stack = {
  worker: LocalWorker;
  /** ws:// form of the Worker's URL, as agents are configured. */
  wsUrl: string;
  sql: pg.Pool;
  token(user: string, admin?: boolean): Promise<string>;
  api: ApiCall;
  /** An approved agent row with its own key. */
  makeAgent(agentId: string, platform?: string): Promise<string>;
  restartWorker(): Promise<void>;
  /**
   * Cuts the Worker (API and Durable Objects) off from Postgres: the WebSocket→TCP proxy the
   * Neon driver goes through is closed and its open connections cut. The test's own `sql` pool
   * connects directly and keeps working. `dbUp()` brings the proxy back on the same port.
   * - "unreachable" (default): nothing listens on the proxy's port, as when Neon's endpoint
   *   cannot be reached at all; the driver's WebSocket fails to open.
   * - "refusing": the port accepts WebSockets and closes each one at once, as a proxy does whose
   *   database is down; the driver sees its connection end before Postgres answered.
   * - "silent": the port accepts connections and never answers, as a network path that drops
   *   packets; only the driver's connect timeout ends the wait.
   * Calling it again while down switches to that kind of outage.
   */
  dbDown(mode?: DbOutage): Promise<void>;
  dbUp(): Promise<void>;
  /**
   * From now on, the proxy's SQL-over-HTTP endpoint runs the requests whose first statement
   * matches `pred` and never answers them (an answer lost after Postgres committed); null stops.
   */
  withholdAnswers(pred: ((query: string) => boolean) | null): void;
  stop(): Promise<void>;
};

export async function startStack(opts: { persistDir?: string; vars?: Record<string, string> } = {}): Promise<Stack> {
  const server = await findPostgres({ preferMachine: true });
  let url = server.url;
  let drop = async () => {};
  if (server.kind !== "embedded") {
    const scratch = await createScratchDatabase(server.url, `dispatch_node_${process.pid}_${randomBytes(3).toString("hex")}`);
    url = scratch.url;
    drop = scratch.drop;
  }
  await migrateDatabase(url);
  // The Worker reaches a real server through PgBouncer when installed, as it reaches Neon's pooler.
  const pgbouncerBinary = server.kind === "embedded" ? undefined : findPgBouncer();
  const pooler = pgbouncerBinary ? await startPgBouncer(pgbouncerBinary, url) : undefined;
  let withhold: ((query: string) => boolean) | null = null;
  const proxyOptions = { onStatement: (query: string) => (withhold?.(query) ? ("withhold" as const) : undefined) };
  let proxy: WsProxy | null = await startWsProxy(0, proxyOptions);
  const proxyPort = proxy.port;
  let standIn: StandIn | null = null;
  const secrets = {
    DATABASE_URL: pooler?.url ?? url,
    DB_WS_PROXY: `127.0.0.1:${proxyPort}`,
    DB_PIPELINE_CONNECT: pooler ? "true" : "false",
    JWT_SECRET,
    AGENT_BOOTSTRAP_KEY: BOOTSTRAP_KEY,
    ...opts.vars,
  };
  let worker = await startLocalWorker(secrets, opts);
  const port = new URL(worker.url).port;
  const sql = new pg.Pool({ connectionString: url, max: 4 });

  const stack: Stack = {
    worker,
    wsUrl: worker.url.replace(/^http/, "ws"),
    sql,
    token: (user, admin = false) => mintToken(user, admin, 1, JWT_SECRET),
    api: apiClient(() => stack.worker.url),
    async makeAgent(agentId, platform = "kubernetes") {
      const key = newAgentKey();
      const hash = hashAgentKey(key);
      await sql.query(
        `insert into agents (agent_id, platform, region, status, approval_status, api_key_hash) values ($1, $2, 'default', 'offline', 'approved', $3)`,
        [agentId, platform, hash],
      );
      return key;
    },
    async restartWorker() {
      await stack.worker.stop();
      // Same port, so agents reconnect to the address they know.
      worker = await startLocalWorker(secrets, { ...opts, port: Number(port) });
      stack.worker = worker;
    },
    async dbDown(mode = "unreachable") {
      const up = proxy;
      proxy = null;
      await up?.close();
      if (standIn && standIn.mode !== mode) {
        const s = standIn;
        standIn = null;
        await s.close();
      }
      if (mode !== "unreachable" && !standIn) standIn = await startStandIn(mode, proxyPort);
    },
    async dbUp() {
      const s = standIn;
      standIn = null;
      if (s) await s.close();
      proxy ??= await startWsProxy(proxyPort, proxyOptions);
    },
    withholdAnswers(pred) {
      withhold = pred;
    },
    async stop() {
      await stack.worker.stop();
      await sql.end();
      await proxy?.close();
      await standIn?.close();
      await pooler?.close();
      await drop();
      await server.close();
    },
  };
  return stack;
}

/** An admin `stop_session` for `sessionId` on `agentId`, through the API; its command id. */
export async function adminStopSession(stack: Stack, adminToken: string, agentId: string, sessionId: string): Promise<string> {
  const res = await stack.api("POST", `/api/v1/admin/agents/${agentId}/command`, {
    token: adminToken,
    body: { action: "stop_session", sessionId },
  });
  if (res.status !== 201) throw new Error(`admin command answered ${res.status}: ${JSON.stringify(res.body)}`);
  return String(res.body.commandId);
}

/** Polls `check` until it returns a value other than undefined; fails after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until Postgres has `agentId` online (its socket's connect work is done). */
export async function agentOnline(stack: Stack, agentId: string, timeoutMs = 10_000): Promise<void> {
  await eventually(
    `${agentId} online`,
    async () => {
      const { rows } = await stack.sql.query("select status from agents where agent_id = $1", [agentId]);
      return rows[0]?.status === "online" ? true : undefined;
    },
    timeoutMs,
  );
}

/** What listens on the proxy's port during a "refusing" or "silent" outage (see `dbDown`). */
type StandIn = { mode: DbOutage; close(): Promise<void> };

async function startStandIn(mode: "refusing" | "silent", port: number): Promise<StandIn> {
  // Statements over HTTP are refused as Neon's proxy refuses them when it cannot reach its
  // compute (500, a JSON message), or never answered.
  const refuse = (res: http.ServerResponse) =>
    res.writeHead(500, { "Content-Type": "application/json" }).end(JSON.stringify({ message: "Couldn't connect to compute node" }));
  const server = http.createServer((_req, res) => (mode === "refusing" ? refuse(res) : undefined));
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const held = new Set<Duplex>();
  server.on("upgrade", (req, socket, head) => {
    if (mode === "silent") {
      // Never answered: the handshake waits as it would for a path that drops packets.
      held.add(socket);
      socket.on("close", () => held.delete(socket));
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => ws.close(1011, "database unavailable"));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return {
    mode,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        for (const socket of held) socket.destroy();
        // Half-open handshakes and idle keep-alive connections too, or close() waits for them.
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
