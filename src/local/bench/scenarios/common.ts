/** What every scenario gets, and the fleet chores they share (connect, wait online, retire). */
import type { AgentCredentials, AgentFleet } from "../agents";
import type { Progress } from "../progress";
import type { BenchStack } from "../stack";
import { pollUntil } from "../util";

export type BenchContext = { stack: BenchStack; progress: Progress };

/** Agents whose id starts with `<prefix>-` and that the database shows online. */
export async function countOnline(ctx: BenchContext, prefix: string): Promise<number> {
  const { rows } = await ctx.stack.sql.query(`select count(*)::int as n from agents where agent_id like $1 and status = 'online'`, [`${prefix}-%`]);
  return (rows[0] as { n: number }).n;
}

/** Opens the sockets (with a progress ticker) and waits until Postgres shows them all online. */
export async function connectAndWaitOnline(
  ctx: BenchContext,
  fleet: AgentFleet,
  creds: AgentCredentials[],
  prefix: string,
  opts: { concurrency: number; timeoutMs?: number },
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const target = fleet.size + creds.length;
  const stop = ctx.progress.ticker(() => `connecting ${fleet.openCount}/${target} sockets (${fleet.counters.refused} refused, retried)`);
  try {
    await fleet.connect(creds, { concurrency: opts.concurrency, timeoutMs });
  } finally {
    stop();
  }
  let online = 0;
  await pollUntil(
    `${target} ${prefix} agents online`,
    async () => {
      online = await countOnline(ctx, prefix);
      ctx.progress.update(`${online}/${target} online in Postgres`);
      return online >= target;
    },
    timeoutMs,
    200,
  );
  // Each connect's drain (online write, re-queue, claim) may still be running: start from quiet.
  ctx.progress.update("waiting for the connect drains to finish");
  await ctx.stack.stats.waitQuiet();
}

/**
 * Closes the fleet and waits (bounded) until its agents are offline, so the next scenario does
 * not share the machine with their close handling or find them selectable.
 */
export async function retireFleet(ctx: BenchContext, fleet: AgentFleet, prefix: string): Promise<void> {
  ctx.progress.update(`closing ${fleet.size} agents`);
  await fleet.close();
  await pollUntil(`${prefix} agents offline`, async () => (await countOnline(ctx, prefix)) === 0, 30_000, 100).catch(() => {
    ctx.progress.line(`  note: some ${prefix} agents still online 30 s after closing`);
  });
}
