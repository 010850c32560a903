/** Delivery settings, from configuration: leases, attempts, deadlines, retention (README "Delivery"). */
import type { Config } from "../env";

export type DeliveryPolicy = {
  /** A `sent` command must be acknowledged within this. */
  ackLeaseSeconds: number;
  /** An `ack`ed command must be finished within this. */
  runLeaseSeconds: number;
  maxAttempts: number;
  /** Deadline per action, seconds after creation; actions not listed have none. */
  ttlSeconds: Record<string, number>;
  retentionDays: number;
};

export function deliveryPolicy(config: Config): DeliveryPolicy {
  return {
    ackLeaseSeconds: config.ACK_LEASE_SECONDS,
    runLeaseSeconds: config.RUN_LEASE_SECONDS,
    maxAttempts: config.MAX_ATTEMPTS,
    ttlSeconds: config.COMMAND_TTL,
    retentionDays: config.RETENTION_DAYS,
  };
}

/** The deadline of a command for `action` created at `now`; null when the action has none. */
export function commandDeadline(policy: DeliveryPolicy, action: string, now = Date.now()): Date | null {
  const ttl = policy.ttlSeconds[action];
  return ttl ? new Date(now + ttl * 1000) : null;
}
