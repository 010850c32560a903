/**
 * Liveness rules for an agent's socket, as pure functions the DO applies (checklist C).
 * Used only by AgentObject; covered by test/unit/liveness.test.ts and the conformance suite.
 */

/** An agent with no heartbeat (or connect) for this long is closed and marked offline (spec §1.10). */
export const HEARTBEAT_TIMEOUT_MS = 45_000;

/**
 * At most one `last_heartbeat` write per this interval. Selection needs `last_heartbeat` within
 * 90 s; with agents beating every 30 s the stored value is then at most 55 + 30 = 85 s old.
 */
export const HEARTBEAT_WRITE_INTERVAL_MS = 55_000;

/** What the DO remembers between heartbeats (in the socket's attachment, so it survives hibernation). */
export type HeartbeatMemory = {
  /** Last heartbeat or connect, ms since epoch. */
  seen: number;
  /** Last time `status='online', last_heartbeat` reached Postgres; 0 = never on this socket. */
  written: number;
  /** Capacity as last written, JSON; "" = none written. */
  capacity: string;
};

/** Whether this heartbeat must reach Postgres: stale stored heartbeat, or new capacity. */
export function heartbeatNeedsWrite(memory: HeartbeatMemory, now: number, capacityJson: string | undefined): boolean {
  if (now - memory.written >= HEARTBEAT_WRITE_INTERVAL_MS) return true;
  return capacityJson !== undefined && capacityJson !== memory.capacity;
}

/** When the liveness alarm should next fire for a socket last seen at `seen`. */
export function livenessDeadline(seen: number): number {
  return seen + HEARTBEAT_TIMEOUT_MS;
}

/** True once the socket has been silent for the whole timeout. */
export function isSilent(seen: number, now: number): boolean {
  return now - seen >= HEARTBEAT_TIMEOUT_MS;
}

/** Retry delays for failed drains and kept frames: exponential from 250 ms, capped at 15 s, jittered. */
export function retryDelayMs(attempt: number, random = Math.random): number {
  const ceiling = Math.min(15_000, 250 * 2 ** attempt);
  return ceiling / 2 + random() * (ceiling / 2);
}
