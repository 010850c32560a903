/**
 * Per-socket state AgentObject keeps with each WebSocket (serializeAttachment), so it survives
 * hibernation. Used only by AgentObject.
 *
 * The heartbeat memory lives here rather than in DO storage: it belongs to one socket (a new
 * socket starts its own), and an attachment is kept in memory with the socket, so a heartbeat
 * that changes nothing else writes no storage (in production, no billed row write; locally, no
 * SQLite commit and fsync on workerd's thread). So does whether the socket's connect work is done:
 * it is the socket's, and keeping it in storage cost every connect a commit of its own.
 */
import type { HeartbeatMemory } from "./liveness";

export type Attachment = {
  agentId: string;
  connId: string;
  connectedAt: number;
  /** When the Worker checked this socket's credentials (ms; 0 if unknown): see AgentObject.disconnect. */
  authorizedAt: number;
  heartbeat: HeartbeatMemory;
  /** The socket's connect work (mark online, re-queue what earlier sockets left unacked) is done. */
  connectWorkDone: boolean;
};

/** Reads and validates a socket's attachment; null for anything unexpected (never throws). */
export function readAttachment(ws: WebSocket): Attachment | null {
  const value: unknown = ws.deserializeAttachment();
  if (typeof value !== "object" || value === null) return null;
  const a = value as Partial<Attachment>;
  if (typeof a.agentId !== "string" || typeof a.connId !== "string" || typeof a.connectedAt !== "number") return null;
  const hb = a.heartbeat;
  const valid = typeof hb === "object" && hb !== null && typeof hb.seen === "number" && typeof hb.written === "number";
  // None (no socket outlives a deploy, so none should lack it): as if last heard at its connect.
  const heartbeat = valid && typeof hb.capacity === "string" ? hb : { seen: a.connectedAt, written: 0, capacity: "" };
  // None (a socket accepted by a build that kept this in storage): as done, rather than requeue
  // what this very socket may be running; the leases still catch anything it left behind.
  const connectWorkDone = typeof a.connectWorkDone === "boolean" ? a.connectWorkDone : true;
  // None (a socket accepted before it was kept): authorized at an unknown time, so any revocation closes it.
  const authorizedAt = typeof a.authorizedAt === "number" ? a.authorizedAt : 0;
  return { agentId: a.agentId, connId: a.connId, connectedAt: a.connectedAt, authorizedAt, heartbeat, connectWorkDone };
}
