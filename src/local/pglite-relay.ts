/**
 * A relay in front of PGlite's socket server that lets one client at a time use its single
 * session: a request group (up to Sync, Query…) waits its turn, runs, and the turn passes on at
 * the server's ReadyForQuery, unless that says a transaction is open, in which case the client
 * keeps the turn until it ends. Each client keeps its own connection to the server.
 */
import net from "node:net";
import type { AddressInfo } from "node:net";
import { PgMessageGroups } from "./pg-message-groups";

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
/** Group-ending message types ("" = start-up) the server answers with ReadyForQuery or an auth request. */
const AWAITS_ANSWER = new Set(["S", "Q", "p", ""]);

/** One session, one user at a time. */
class Turns {
  #holder: number | null = null;
  #waiting: Array<{ id: number; go: () => void }> = [];

  async take(id: number): Promise<void> {
    if (this.#holder === id) return;
    if (this.#holder === null) {
      this.#holder = id;
      return;
    }
    await new Promise<void>((go) => this.#waiting.push({ id, go }));
  }

  give(id: number): void {
    if (this.#holder !== id) {
      // A client that closed while waiting: let its chain run on (it sees it is closed).
      for (const w of this.#waiting.filter((w) => w.id === id)) w.go();
      this.#waiting = this.#waiting.filter((w) => w.id !== id);
      return;
    }
    const next = this.#waiting.shift();
    this.#holder = next?.id ?? null;
    next?.go();
  }
}

export async function startPgliteRelay(port: number, upstreamPort: number): Promise<{ port: number; close(): Promise<void> }> {
  const turns = new Turns();
  const sockets = new Set<net.Socket>();
  let nextId = 0;
  const relay = net.createServer((client) => {
    const id = nextId++;
    const upstream = net.connect({ host: "127.0.0.1", port: upstreamPort, noDelay: true });
    client.setNoDelay(true);
    sockets.add(client).add(upstream);
    let closed = false;
    /** Resolves when the request in flight is answered (ReadyForQuery, or the server asks something). */
    let answered: (() => void) | null = null;
    let inTransaction = false;

    const end = () => {
      if (closed) return;
      closed = true;
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
      answered?.();
      turns.give(id);
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);

    // Server → client: forwarded as it comes; parsed only to see where answers end.
    let fromServer: Buffer = Buffer.alloc(0);
    upstream.on("data", (chunk: Buffer) => {
      client.write(chunk);
      fromServer = fromServer.length === 0 ? chunk : Buffer.concat([fromServer, chunk]);
      while (fromServer.length >= 5) {
        const type = String.fromCharCode(fromServer[0]!);
        const length = 1 + fromServer.readInt32BE(1);
        if (fromServer.length < length) break;
        if (type === "Z") {
          inTransaction = fromServer[5] !== "I".charCodeAt(0);
          answered?.();
        } else if (type === "R" && fromServer.readInt32BE(5) !== 0) {
          answered?.(); // an authentication request: the client answers in its next group
        }
        fromServer = fromServer.subarray(length);
      }
    });

    // Client → server: whole groups, one at a time, each in its turn.
    let chain = Promise.resolve();
    const groups = new PgMessageGroups((group, last) => {
      chain = chain.then(async () => {
        if (closed) return;
        const code = group.length >= 8 && group.readInt32BE(0) === group.length ? group.readInt32BE(4) : 0;
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          client.write("N"); // no TLS on loopback; the client goes on in plain text
          return;
        }
        if (code === CANCEL_REQUEST) return end();
        await turns.take(id);
        if (closed) return;
        const done = new Promise<void>((resolve) => (answered = resolve));
        upstream.write(group);
        if (last === "X") return end();
        // Sync and Query are answered with ReadyForQuery, start-up and passwords at the latest with
        // an authentication request; after anything else (Flush…) the client goes on in its turn.
        if (!AWAITS_ANSWER.has(last)) return;
        await done;
        answered = null;
        if (!inTransaction) turns.give(id);
      });
    });
    client.on("data", (chunk: Buffer) => groups.push(chunk));
  });
  await new Promise<void>((resolve, reject) => {
    relay.once("error", reject);
    relay.listen(port, "127.0.0.1", () => resolve());
  });
  return {
    port: (relay.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        relay.close(() => resolve());
      }),
  };
}
