/** Agent capacity as the original stores it: `{maxSessions, cpu, memory[, storage]}` (spec §2.1). */
import { z } from "zod";

/**
 * Accepts any object; unknown fields (docker-agent's integer maxCpu/maxMemory) are dropped and
 * non-string cpu/memory become "", as the original's decoder did (checklist 5, 19).
 */
export const CapacitySchema = z
  .object({
    maxSessions: z.number().int().nonnegative().optional(),
    cpu: z.unknown().optional(),
    memory: z.unknown().optional(),
    storage: z.unknown().optional(),
  })
  .transform((c) => ({
    maxSessions: c.maxSessions ?? 0,
    cpu: typeof c.cpu === "string" ? c.cpu : "",
    memory: typeof c.memory === "string" ? c.memory : "",
    ...(typeof c.storage === "string" ? { storage: c.storage } : {}),
  }));

export type Capacity = z.infer<typeof CapacitySchema>;
