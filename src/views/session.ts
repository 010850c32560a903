/** The Session JSON object (spec §5.2): `status.phase` is the state with a capital first letter. */
import { z } from "@hono/zod-openapi";
import type { SessionRow } from "../db/schema";

export const SessionSchema = z
  .object({
    name: z.string(),
    namespace: z.string(),
    user: z.string(),
    template: z.string(),
    state: z.string(),
    persistentHome: z.boolean(),
    idleTimeout: z.string(),
    maxSessionDuration: z.string(),
    createdAt: z.string().optional(),
    platform: z.string().optional(),
    agentId: z.string().optional(),
    activeConnections: z.number().int().optional(),
    streamingProtocol: z.string().optional(),
    streamingPort: z.number().int().optional(),
    streamingPath: z.string().optional(),
    status: z.object({
      phase: z.string(),
      url: z.string().optional(),
      podName: z.string().optional(),
      lastActivity: z.string().optional(),
      message: z.string().optional(),
    }),
    resources: z.object({ memory: z.string(), cpu: z.string() }).optional(),
    tags: z.array(z.string()).nullable().optional(),
  })
  .openapi("Session");

export type SessionJson = z.infer<typeof SessionSchema>;

export function phaseOf(state: string): string {
  return state ? state[0]!.toUpperCase() + state.slice(1) : "";
}

export function toSessionJson(row: SessionRow): SessionJson {
  const state = row.state ?? "";
  return {
    name: row.id,
    namespace: row.namespace ?? "streamspace",
    user: row.userId ?? "",
    template: row.templateName ?? "",
    state,
    persistentHome: row.persistentHome ?? false,
    idleTimeout: row.idleTimeout ?? "",
    maxSessionDuration: row.maxSessionDuration ?? "",
    createdAt: row.createdAt?.toISOString(),
    platform: row.platform ?? undefined,
    agentId: row.agentId ?? undefined,
    activeConnections: row.activeConnections ?? 0,
    streamingProtocol: row.streamingProtocol ?? undefined,
    streamingPort: row.streamingPort ?? undefined,
    streamingPath: row.streamingPath ?? undefined,
    status: {
      phase: phaseOf(state),
      ...(row.url ? { url: row.url } : {}),
      ...(row.podName ? { podName: row.podName } : {}),
      ...(row.lastActivity ? { lastActivity: row.lastActivity.toISOString() } : {}),
    },
    ...(row.memory || row.cpu ? { resources: { memory: row.memory ?? "", cpu: row.cpu ?? "" } } : {}),
    tags: row.tags ?? null,
  };
}
