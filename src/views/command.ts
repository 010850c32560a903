/** The AgentCommand JSON object (spec §2.2), plus the delivery fields this dispatcher adds. */
import { z } from "@hono/zod-openapi";
import type { CommandRow } from "../db/schema";

export const COMMAND_STATUSES = ["pending", "sent", "ack", "completed", "failed", "expired", "cancelled"] as const;

export const CommandSchema = z
  .object({
    id: z.string(),
    commandId: z.string(),
    agentId: z.string().optional(),
    sessionId: z.string().optional(),
    action: z.string(),
    payload: z.unknown().optional(),
    status: z.string(),
    errorMessage: z.string().optional(),
    result: z.unknown().optional(),
    attempts: z.number().int(),
    maxAttempts: z.number().int(),
    leaseExpiresAt: z.string().optional(),
    nextAttemptAt: z.string().optional(),
    expiresAt: z.string().optional(),
    createdAt: z.string(),
    sentAt: z.string().optional(),
    acknowledgedAt: z.string().optional(),
    completedAt: z.string().optional(),
    updatedAt: z.string().optional(),
  })
  .openapi("AgentCommand");

export type CommandJson = z.infer<typeof CommandSchema>;

const iso = (d: Date | null) => (d ? d.toISOString() : undefined);

export function toCommandJson(row: CommandRow): CommandJson {
  const optional = {
    agentId: row.agentId ?? undefined,
    sessionId: row.sessionId ?? undefined,
    payload: row.payload ?? undefined,
    errorMessage: row.errorMessage ?? undefined,
    result: row.result ?? undefined,
    sentAt: iso(row.sentAt),
    acknowledgedAt: iso(row.acknowledgedAt),
    completedAt: iso(row.completedAt),
    updatedAt: iso(row.updatedAt),
    leaseExpiresAt: iso(row.leaseExpiresAt),
    nextAttemptAt: iso(row.nextAttemptAt),
    expiresAt: iso(row.expiresAt),
  };
  return {
    id: row.id,
    commandId: row.commandId,
    action: row.action,
    status: row.status ?? "pending",
    attempts: row.attempts,
    maxAttempts: row.maxAttempts,
    createdAt: (row.createdAt ?? new Date(0)).toISOString(),
    ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)),
  };
}
