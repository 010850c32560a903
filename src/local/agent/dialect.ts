/**
 * The seam between the agent's connection machinery and one wire dialect. StreamSpace has two
 * agents that disagree on details (k8s sends RFC 3339 timestamps and omits them on `status`,
 * docker sends integers), so everything frame-shaped lives behind this interface.
 */
import { k8sDialect } from "./k8s-dialect";

/** A JSON object as sent or received on the wire. */
export type JsonObject = Record<string, unknown>;

/** Frame types an agent sends. */
export type OutboundFrameType = "heartbeat" | "ack" | "status" | "complete" | "failed";

/** One agent→server frame, serialised with `JSON.stringify` exactly as it is. */
export interface OutboundFrame {
  type: OutboundFrameType;
  /** Absent on frames the dialect sends without one (k8s `status`). */
  timestamp?: string | number;
  payload: JsonObject;
}

/** A command as delivered by the server. */
export interface Command {
  commandId: string;
  action: string;
  payload: JsonObject;
}

/** One server message, classified. */
export type ServerMessage =
  | { kind: "command"; command: Command }
  | { kind: "ignored"; type: string }
  | { kind: "malformed"; reason: string };

/** Sources of time and randomness, injectable so command handling is deterministic in tests. */
export interface CommandContext {
  now(): Date;
  /** Uniform in `[0, 1)`. */
  random(): number;
}

/** What handling one command produced, after the ack and the simulated work. */
export interface CommandOutcome {
  /** Every frame to send, in order; the last one is `final`. */
  frames: OutboundFrame[];
  /** The `complete` or `failed` frame, resent verbatim when the command is redelivered. */
  final: OutboundFrame;
  /** Change to the active session count (+1 start, -1 stop, 0 otherwise). */
  sessionDelta: number;
}

/** Names of implemented dialects. */
export const DIALECT_NAMES = ["k8s"] as const;
export type DialectName = (typeof DIALECT_NAMES)[number];

/** Platforms the control plane accepts at registration. */
export const PLATFORMS = ["kubernetes", "docker", "vm", "cloud"] as const;
export type Platform = (typeof PLATFORMS)[number];

/** Identity an agent registers with. */
export interface RegistrationInfo {
  agentId: string;
  platform: Platform;
  region: string;
}

/** Everything dialect-specific about talking to the control plane. */
export interface Dialect {
  readonly name: DialectName;
  /** JSON body of `POST /api/v1/agents/register`. */
  registrationBody(info: RegistrationInfo): JsonObject;
  heartbeatFrame(activeSessions: number, now: Date): OutboundFrame;
  ackFrame(commandId: string, now: Date): OutboundFrame;
  failedFrame(commandId: string, error: string, now: Date): OutboundFrame;
  /** Validates one text message from the server; never throws. */
  parseServerMessage(text: string): ServerMessage;
  /** Handles one command after its ack and simulated work; pure apart from `ctx`. */
  handleCommand(command: Command, ctx: CommandContext): CommandOutcome;
}

/** Looks a dialect up by name. */
export function getDialect(name: DialectName): Dialect {
  switch (name) {
    case "k8s":
      return k8sDialect;
  }
}
