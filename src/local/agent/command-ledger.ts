/**
 * Command deduplication. The control plane redelivers commands it has no final answer for
 * (e.g. after a reconnect), so the agent must recognise ids it has already seen: redoing a
 * `start_session` would create a second pod in a real cluster.
 */
import type { OutboundFrame } from "./dialect";

/** What the ledger knows about a command id. */
export type LedgerEntry =
  | { status: "new" }
  | { status: "pending" }
  | { status: "finished"; final: OutboundFrame };

/** How many finished ids the reference agent remembers by default. */
export const DEFAULT_LEDGER_LIMIT = 10_000;

/**
 * Tracks queued/in-progress ids and the final frame (complete/failed) of finished ones.
 * Finished ids are bounded: the oldest are forgotten first, which is safe because the server
 * stops redelivering once it has the final frame.
 */
export class CommandLedger {
  private readonly pending = new Set<string>();
  // A Map iterates in insertion order, which makes it a cheap FIFO for eviction.
  private readonly finished = new Map<string, OutboundFrame>();

  /** @param limit how many finished ids to remember (at least 1) */
  constructor(private readonly limit: number = DEFAULT_LEDGER_LIMIT) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`ledger limit must be a positive integer, got ${limit}`);
  }

  /** Looks `commandId` up without changing anything. */
  lookup(commandId: string): LedgerEntry {
    const final = this.finished.get(commandId);
    if (final) return { status: "finished", final };
    if (this.pending.has(commandId)) return { status: "pending" };
    return { status: "new" };
  }

  /** Marks `commandId` as queued; returns false if it was already known (pending or finished). */
  begin(commandId: string): boolean {
    if (this.lookup(commandId).status !== "new") return false;
    this.pending.add(commandId);
    return true;
  }

  /** Records the final frame of `commandId`, evicting the oldest finished ids past the limit. */
  finish(commandId: string, final: OutboundFrame): void {
    this.pending.delete(commandId);
    this.finished.delete(commandId);
    this.finished.set(commandId, final);
    while (this.finished.size > this.limit) {
      const oldest = this.finished.keys().next();
      if (oldest.done) break;
      this.finished.delete(oldest.value);
    }
  }

  /** Forgets a pending id without a result (the agent stopped before finishing it). */
  abandon(commandId: string): void {
    this.pending.delete(commandId);
  }

  /** Counts, for tests and logs. */
  get size(): { pending: number; finished: number } {
    return { pending: this.pending.size, finished: this.finished.size };
  }
}
