/** Runs the Worker's cron handler once, as the platform's trigger would, and returns its counts. */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { scheduled } from "../../src/sweep/scheduled";
import type { SweepResult } from "../../src/sweep/sweep";

export async function runSweepNow(): Promise<SweepResult> {
  const ctx = createExecutionContext();
  const result = await scheduled(createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() }), env, ctx);
  await waitOnExecutionContext(ctx);
  return result;
}
