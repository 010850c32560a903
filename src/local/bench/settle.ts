/**
 * Lets the Worker go quiet between scenarios. After one with thousands of agents, workerd keeps
 * the objects' outbound connections to the database endpoint for up to its ~10 s idle timeout;
 * a scenario starting on top of those measures the last one's leftovers, and with 2,000 more agents
 * the process can run out of file descriptors (a full run hit the 20,000 limit this way: a storm
 * followed by the heartbeat scenario's connects). Linux only (it reads /proc); elsewhere no wait.
 */
import type { BenchContext } from "./scenarios/common";
import { openSockets } from "./proc";
import { pollUntil } from "./util";

/** Sockets workerd holds when idle are a few dozen; below this it counts as settled. */
const QUIET_SOCKETS = 200;
const MAX_WAIT_MS = 20_000;
const POLL_MS = 500;

/** Returns once workerd is quiet, or after MAX_WAIT_MS (the scenario then runs anyway). */
export async function settle(ctx: BenchContext): Promise<void> {
  const pid = ctx.stack.workerPid;
  const started = Date.now();
  let sockets = openSockets(pid);
  const quiet = () => (sockets = openSockets(pid)) === undefined || sockets <= QUIET_SOCKETS;
  if (quiet()) return;
  const stop = ctx.progress.ticker(() => `settling: workerd holds ${sockets} sockets from the last scenario`);
  await pollUntil("workerd to close the last scenario's sockets", quiet, MAX_WAIT_MS, POLL_MS)
    .catch(() => {})
    .finally(stop);
  ctx.progress.line(`  settled in ${((Date.now() - started) / 1000).toFixed(1)} s (workerd holds ${sockets ?? "?"} sockets)`);
}
