/** Agent capacity as the original stores it: `{maxSessions, cpu, memory[, storage]}` (spec §2.1). */
import { z } from "zod";

/**
 * Accepts any object; unknown fields (docker-agent's integer maxCpu/maxMemory) are dropped and
 * non-string cpu/memory become "", as the original's decoder did (checklist 5, 19).
 */
const MAX_QUANTITY_LENGTH = 64;
const MAX_SESSIONS = 1_000_000;

export const CapacitySchema = z
  .object({
    maxSessions: z.number().int().nullish(),
    cpu: z.unknown().optional(),
    memory: z.unknown().optional(),
    storage: z.unknown().optional(),
  })
  .transform((c) => ({
    // Any integer the original's decoder took: one outside 0..1,000,000 is brought inside, not
    // refused (a refused heartbeat would not count, and the agent would be declared offline).
    maxSessions: Math.min(Math.max(c.maxSessions ?? 0, 0), MAX_SESSIONS),
    cpu: quantity(c.cpu),
    memory: quantity(c.memory),
    ...(typeof c.storage === "string" ? { storage: quantity(c.storage) } : {}),
  }));

/** A resource quantity like "64 cores" or "256Gi"; anything else (or absurdly long) is "". */
function quantity(value: unknown): string {
  return typeof value === "string" && value.length <= MAX_QUANTITY_LENGTH ? value : "";
}

export type Capacity = z.infer<typeof CapacitySchema>;
