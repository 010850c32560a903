/**
 * The WebSocket the Neon driver opens (neonConfig.webSocketConstructor), sending the Postgres
 * messages written in one turn of the event loop as one frame. pg writes a query as several
 * messages at once (Parse, Bind, Describe, Execute, Sync); the driver's own coalescing
 * (coalesceWrites) flushes on a setTimeout(0), which costs ~1 ms per query in workerd, so it is
 * off, and each message went out as a frame of its own. A microtask flush batches them without
 * the wait. The byte stream the proxy sees is the same.
 */
export class CoalescingWebSocket {
  readonly #ws: WebSocket;
  #queued: Uint8Array[] = [];

  constructor(url: string) {
    this.#ws = new WebSocket(url);
  }

  get binaryType(): WebSocket["binaryType"] {
    return this.#ws.binaryType;
  }

  set binaryType(value: WebSocket["binaryType"]) {
    this.#ws.binaryType = value;
  }

  /** The driver listens for open, message, error and close. */
  addEventListener(type: "open" | "message" | "error" | "close", listener: (event: Event) => void): void {
    this.#ws.addEventListener(type, listener);
  }

  send(data: Uint8Array): void {
    this.#queued.push(data);
    if (this.#queued.length === 1) queueMicrotask(() => this.#flush());
  }

  close(code?: number, reason?: string): void {
    this.#flush();
    this.#ws.close(code, reason);
  }

  #flush(): void {
    const parts = this.#queued;
    if (parts.length === 0) return;
    this.#queued = [];
    let frame = parts[0]!;
    if (parts.length > 1) {
      frame = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        frame.set(p, at);
        at += p.length;
      }
    }
    try {
      this.#ws.send(frame);
    } catch {
      // The socket is closing or closed: its close/error event tells the driver.
    }
  }
}
