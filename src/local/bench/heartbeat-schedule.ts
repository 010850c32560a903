/**
 * When a bench agent heartbeats, as real agents do (a ticker started at connect, spec §1.10):
 * one interval after its socket opens, then every interval. Agents already connected when the
 * heartbeats start are spread evenly over one interval instead (real agents are not
 * synchronised). Times are performance.now() milliseconds. Used by AgentFleet.
 */

/** The first heartbeat of an agent whose socket opened at `openedAt`. */
export function firstBeat(openedAt: number, periodMs: number): number {
  return openedAt + periodMs;
}

/** The first heartbeat of the `index`-th of `count` agents already connected at `start`. */
export function spreadBeat(index: number, count: number, start: number, periodMs: number): number {
  return start + ((index + 1) / count) * periodMs;
}

/**
 * The heartbeat after one due at `beatAt` and sent at `now`. Behind schedule (a stalled event
 * loop), the next comes a whole interval after this one, not at once.
 */
export function nextBeat(beatAt: number, now: number, periodMs: number): number {
  const next = beatAt + periodMs;
  return next <= now ? now + periodMs : next;
}
