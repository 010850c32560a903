/** The cron entry: runs the sweep and logs only when it did something. */
import { createDb, dbOptions } from "../db/client";
import { readConfig } from "../env";
import type { Config } from "../env";
import { createLogger } from "../lib/log";
import { deliveryPolicy } from "../lib/delivery-policy";
import { DEFAULT_SWEEP_OPTIONS, runSweep, sweepChangedAnything } from "./sweep";
import type { SweepResult } from "./sweep";

export async function scheduled(controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<SweepResult> {
  const log = createLogger({ component: "sweep", cron: controller.cron, scheduledTime: controller.scheduledTime });
  let config: Config;
  try {
    config = readConfig(env);
  } catch (err) {
    // Logged here, with what is wrong with each setting (the error's cause).
    log.error("sweep failed", { err });
    throw err;
  }
  const handle = createDb(dbOptions(config));
  try {
    const result = await runSweep(env, handle.db, deliveryPolicy(config), {
      ...DEFAULT_SWEEP_OPTIONS,
      graceSeconds: config.SWEEP_PENDING_GRACE_SECONDS,
    });
    if (sweepChangedAnything(result)) log.info("sweep", result);
    return result;
  } catch (err) {
    log.error("sweep failed", { err });
    throw err;
  } finally {
    ctx.waitUntil(handle.end());
  }
}
