/**
 * Opening the agent's WebSocket, tied to an AbortSignal so stop() can end it from any state:
 * an open socket gets a clean 1000 close, a half-open handshake is simply dropped.
 */
import WebSocket from "ws";
import type { RawData } from "ws";

/** How a socket ended. */
export interface CloseInfo {
  code: number;
  reason: string;
}

/** An open socket and the promise of its end. */
export interface OpenSocket {
  ws: WebSocket;
  /** Resolves (never rejects) once the socket is closed, for whatever reason. */
  closed: Promise<CloseInfo>;
}

/** Called synchronously from the socket's events. */
export interface SocketHandlers {
  onOpen(ws: WebSocket): void;
  onMessage(text: string): void;
}

/** Grace period for the peer to answer our close frame before the TCP connection is cut. */
const CLOSE_GRACE_MS = 2_000;

/**
 * Connects to `url` with `headers`. Resolves once open; rejects with the handshake error
 * (e.g. "Unexpected server response: 401") if it never opens, or if `signal` aborts first.
 *
 * The handlers are attached before the handshake and run synchronously: ws emits messages that
 * arrived together with the upgrade response right after `open`, before an awaiting caller
 * could react, and the agent must already be able to answer them.
 */
export async function openSocket(
  url: string,
  headers: Record<string, string>,
  signal: AbortSignal,
  handlers: SocketHandlers,
  handshakeTimeoutMs = 10_000,
): Promise<OpenSocket> {
  signal.throwIfAborted();
  const ws = new WebSocket(url, { headers, perMessageDeflate: false, handshakeTimeout: handshakeTimeoutMs });
  ws.once("open", () => handlers.onOpen(ws));
  ws.on("message", (data) => handlers.onMessage(rawToText(data)));
  let failure: Error | undefined;
  // Without an error listener ws would throw the error into the event loop.
  ws.on("error", (err) => (failure = err));
  const closed = new Promise<CloseInfo>((resolve) =>
    ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );

  const onAbort = () => {
    if (ws.readyState === WebSocket.CONNECTING) return ws.terminate();
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.close(1000, "agent stopping");
    const timer = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
    void closed.then(() => clearTimeout(timer));
  };
  signal.addEventListener("abort", onAbort, { once: true });
  void closed.then(() => signal.removeEventListener("abort", onAbort));

  const opened = await Promise.race([
    new Promise<boolean>((resolve) => ws.once("open", () => resolve(true))),
    closed.then(() => false),
  ]);
  if (!opened) throw failure ?? new Error("socket closed before it opened");
  return { ws, closed };
}

/** Decodes any `ws` message payload as UTF-8 text. */
export function rawToText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  return Buffer.from(data).toString("utf8");
}
