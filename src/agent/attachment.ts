/**
 * Per-socket state AgentObject keeps with each WebSocket (serializeAttachment), so it survives
 * hibernation. Used only by AgentObject.
 */
export type Attachment = { agentId: string; connId: string; connectedAt: number };

/** Reads and validates a socket's attachment; null for anything unexpected (never throws). */
export function readAttachment(ws: WebSocket): Attachment | null {
  const value: unknown = ws.deserializeAttachment();
  if (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Attachment).agentId === "string" &&
    typeof (value as Attachment).connId === "string" &&
    typeof (value as Attachment).connectedAt === "number"
  ) {
    return value as Attachment;
  }
  return null;
}
