/**
 * Cuts a Postgres client's byte stream into whole request groups: a start-up message on its own,
 * then runs of protocol messages up to one that makes the server answer (Sync, Query, Flush,
 * password, COPY data, Terminate…). The PGlite relay (pglite-relay.ts) passes a group at a time,
 * so one client's Parse and Bind never have another client's messages between them.
 */

/** Message types after which a client waits for the server, so the group ends there. */
const GROUP_ENDS = new Set(["S", "Q", "H", "X", "p", "d", "c", "f", "F"]);
/** Request codes of untyped messages after which the client still sends a start-up message. */
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

export class PgMessageGroups {
  #buffer: Buffer = Buffer.alloc(0);
  #group: Buffer[] = [];
  #startup = true;

  /** `last` is the group's final message type ("" for an untyped start-up message). */
  constructor(private readonly emit: (group: Buffer, last: string) => void) {}

  push(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      if (this.#startup) {
        if (this.#buffer.length < 8) return;
        const length = this.#buffer.readInt32BE(0);
        if (this.#buffer.length < length) return;
        const code = this.#buffer.readInt32BE(4);
        this.#take(length, "");
        if (code !== SSL_REQUEST && code !== GSSENC_REQUEST) this.#startup = false;
        continue;
      }
      if (this.#buffer.length < 5) return;
      const type = String.fromCharCode(this.#buffer[0]!);
      const length = 1 + this.#buffer.readInt32BE(1);
      if (this.#buffer.length < length) return;
      if (GROUP_ENDS.has(type) || !/[PBDEC]/.test(type)) this.#take(length, type);
      else this.#take(length, null);
    }
  }

  /** Moves one message into the group; `last` (a type, or "" untyped) ends the group, null does not. */
  #take(length: number, last: string | null): void {
    this.#group.push(this.#buffer.subarray(0, length));
    this.#buffer = this.#buffer.subarray(length);
    if (last !== null) {
      const group = this.#group.length === 1 ? this.#group[0]! : Buffer.concat(this.#group);
      this.#group = [];
      this.emit(group, last);
    }
  }
}
