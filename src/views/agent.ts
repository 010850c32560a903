/** The Agent JSON object (spec §5.6). API-key fields are never serialised. */
import { z } from "@hono/zod-openapi";
import type { AgentRow } from "../db/schema";

export const AgentSchema = z
  .object({
    id: z.string(),
    agentId: z.string(),
    platform: z.string(),
    region: z.string().optional(),
    status: z.string(),
    capacity: z.unknown().optional(),
    lastHeartbeat: z.string().optional(),
    metadata: z.unknown().optional(),
    approvalStatus: z.string(),
    approvedAt: z.string().optional(),
    approvedBy: z.string().optional(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Agent");

export type AgentJson = z.infer<typeof AgentSchema>;

export function toAgentJson(row: AgentRow): AgentJson {
  return {
    id: row.id,
    agentId: row.agentId,
    platform: row.platform,
    ...(row.region ? { region: row.region } : {}),
    status: row.status ?? "offline",
    ...(row.capacity != null ? { capacity: row.capacity } : {}),
    ...(row.lastHeartbeat ? { lastHeartbeat: row.lastHeartbeat.toISOString() } : {}),
    ...(row.metadata != null ? { metadata: row.metadata } : {}),
    approvalStatus: row.approvalStatus ?? "",
    ...(row.approvedAt ? { approvedAt: row.approvedAt.toISOString() } : {}),
    ...(row.approvedBy ? { approvedBy: row.approvedBy } : {}),
    createdAt: (row.createdAt ?? new Date(0)).toISOString(),
    updatedAt: (row.updatedAt ?? new Date(0)).toISOString(),
  };
}
