/**
 * A WebSocket→TCP proxy that lets the Neon serverless driver talk to a plain Postgres, as
 * Neon's own proxy does in production. Used by `npm run dev`, the tests and the bench.
 *
 * The driver opens `ws://<proxy>/v1?address=<host>:<port>` and speaks the Postgres wire
 * protocol in binary frames; each WebSocket gets its own TCP connection.
 */
import net from "node:net";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";

export type WsProxy = { port: number; close(): Promise<void> };

/** Only loopback targets: the proxy must never become an open relay. */
const ALLOWED_HOSTS = new Set(["127.0.0.1", "localhost", "::1"]);

/** Starts the proxy on `port` (0 = any free port) and resolves once it listens. */
export async function startWsProxy(port = 0): Promise<WsProxy> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port, perMessageDeflate: false });
  wss.on("connection", (ws, req) => {
    const url = new URL(req.url ?? "/", "http://proxy");
    const address = url.searchParams.get("address") ?? "";
    const sep = address.lastIndexOf(":");
    const host = address.slice(0, sep);
    const targetPort = Number(address.slice(sep + 1));
    if (!ALLOWED_HOSTS.has(host) || !Number.isInteger(targetPort)) {
      ws.close(1008, "address not allowed");
      return;
    }
    const tcp = net.connect({ host, port: targetPort, noDelay: true });
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
    wss.once("listening", resolve);
    wss.once("error", reject);
  });
  return {
    port: (wss.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}
