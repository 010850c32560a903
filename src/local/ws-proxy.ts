/**
 * The local stand-in for Neon's proxy, so the Neon serverless driver can talk to a plain
 * Postgres. Used by `npm run dev`, the tests and the bench.
 *
 * - WebSocket: the driver opens `ws://<proxy>/v1?address=<host>:<port>` and speaks the Postgres
 *   wire protocol in binary frames; each WebSocket gets its own TCP connection.
 * - HTTP: `POST /sql?address=<host>:<port>` runs one query, as Neon's SQL-over-HTTP endpoint does
 *   (see http-sql.ts).
 */
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { sqlOverHttp } from "./http-sql";
import type { StatementObserver } from "./http-sql";

export type WsProxy = { port: number; close(): Promise<void> };

/** Only loopback targets: the proxy must never become an open relay. */
const ALLOWED_HOSTS = new Set(["127.0.0.1", "localhost", "::1"]);

/** The target named by `?address=host:port`, if it is an allowed one. */
function targetOf(requestUrl: string | undefined): { host: string; port: number } | null {
  const url = new URL(requestUrl ?? "/", "http://proxy");
  const address = url.searchParams.get("address") ?? "";
  const sep = address.lastIndexOf(":");
  const host = address.slice(0, sep);
  const port = Number(address.slice(sep + 1));
  return ALLOWED_HOSTS.has(host) && Number.isInteger(port) && port > 0 ? { host, port } : null;
}

/** Starts the proxy on `port` (0 = any free port) and resolves once it listens. */
export async function startWsProxy(port = 0, opts: { onStatement?: StatementObserver } = {}): Promise<WsProxy> {
  const sql = sqlOverHttp(opts.onStatement);
  const server = http.createServer((req, res) => {
    const target = targetOf(req.url);
    if (req.method !== "POST" || !req.url?.startsWith("/sql") || !target) {
      res.writeHead(target ? 404 : 403, { "Content-Type": "application/json" }).end(JSON.stringify({ message: "not found" }));
      return;
    }
    sql.handle(req, res, target);
  });
  server.keepAliveTimeout = 60_000;
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  wss.on("connection", (ws, req) => {
    const target = targetOf(req.url);
    if (!target) {
      ws.close(1008, "address not allowed");
      return;
    }
    const tcp = net.connect({ host: target.host, port: target.port, noDelay: true });
    const pending: Buffer[] = [];
    let connected = false;
    tcp.on("connect", () => {
      connected = true;
      for (const chunk of pending) tcp.write(chunk);
      pending.length = 0;
    });
    tcp.on("data", (data) => {
      if (ws.readyState === ws.OPEN) ws.send(data);
    });
    tcp.on("close", () => ws.close());
    tcp.on("error", () => ws.terminate());
    ws.on("message", (data: Buffer) => {
      if (connected) tcp.write(data);
      else pending.push(data);
    });
    ws.on("close", () => tcp.destroy());
    ws.on("error", () => tcp.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.close(() => {
          void sql.close().then(() => resolve());
        });
        server.closeAllConnections();
      }),
  };
}
