/**
 * The seam between the agent's connection machinery and one wire dialect. StreamSpace has two
 * agents that disagree on details (k8s sends RFC 3339 timestamps, acks every command and wraps
 * its replies in `payload`; docker sends integers, never acks and replies with flat
 * `command_response`/`command_error` frames), so everything frame-shaped lives behind this
 * interface.
 */
import { createDockerDialect } from "./docker-dialect";
import { k8sDialect } from "./k8s-dialect";

/** A JSON object as sent or received on the wire. */
export type JsonObject = Record<string, unknown>;

/** Types of frames that carry their data under `payload` (every k8s frame, docker's heartbeat). */
export type EnvelopeFrameType = "heartbeat" | "ack" | "status" | "complete" | "failed";

/** Types of frames that carry their fields at the top level (docker replies, pongs). */
export type FlatFrameType = "command_response" | "command_error" | "pong" | "shutdown_ack";

/** Frame types an agent sends. */
export type OutboundFrameType = EnvelopeFrameType | FlatFrameType;

/** An agent→server frame with a `payload` object. */
export interface EnvelopeFrame {
  type: EnvelopeFrameType;
  /** Absent on frames the dialect sends without one (k8s `status`). */
  timestamp?: string | number;
  payload: JsonObject;
}

/** An agent→server frame whose fields sit next to `type`, e.g. docker's `command_error`. */
export interface FlatFrame {
  type: FlatFrameType;
  [field: string]: unknown;
}

/** One agent→server frame, serialised with `JSON.stringify` exactly as it is. */
export type OutboundFrame = EnvelopeFrame | FlatFrame;

const ENVELOPE_TYPES: ReadonlySet<string> = new Set<EnvelopeFrameType>(["heartbeat", "ack", "status", "complete", "failed"]);

/** Whether `frame` keeps its data under `payload`. */
export function isEnvelopeFrame(frame: OutboundFrame): frame is EnvelopeFrame {
  return ENVELOPE_TYPES.has(frame.type);
}

/** A frame's data fields, wherever the dialect put them: `payload` or the top level. */
export function frameFields(frame: OutboundFrame): Record<string, unknown> {
  return isEnvelopeFrame(frame) ? frame.payload : frame;
}

/** A command as delivered by the server. */
export interface Command {
  commandId: string;
  action: string;
  payload: JsonObject;
}

/**
 * One server message, classified. `ignored` is any valid message that is not a command; the
 * dialect's {@link Dialect.controlReply} decides whether it still gets an answer (ping).
 */
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

/** What handling one command produced, after the ack (if any) and the simulated work. */
export interface CommandOutcome {
  /** Every frame to send, in order; the last one is `final`. */
  frames: OutboundFrame[];
  /** The frame that ends the command, resent verbatim when the command is redelivered. */
  final: OutboundFrame;
  /** Whether `final` reports success (k8s `complete`, docker `command_response` with success). */
  ok: boolean;
  /** Change to the active session count (+1 start, -1 stop, 0 otherwise). */
  sessionDelta: number;
}

/** An answer to a non-command server message. */
export interface ControlReply {
  frame: OutboundFrame;
  /** The agent stops after sending `frame` (docker's `shutdown`). */
  thenStop: boolean;
}

/** How a dialect treats the answer to `POST /api/v1/agents/register`. */
export interface RegistrationPolicy {
  /** HTTP statuses that count as registered; any other is a registration error (retried). */
  acceptedStatuses: ReadonlySet<number>;
  /**
   * Whether the body's `approvalStatus` (pending → poll, rejected → error) and `apiKey` (switch
   * keys) are honoured. docker-agent reads neither.
   */
  followsApproval: boolean;
}

/** Names of implemented dialects. */
export const DIALECT_NAMES = ["k8s", "docker"] as const;
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
  readonly registration: RegistrationPolicy;
  /** JSON body of `POST /api/v1/agents/register`. */
  registrationBody(info: RegistrationInfo): JsonObject;
  heartbeatFrame(activeSessions: number, now: Date): OutboundFrame;
  /** The frame sent before a command's work starts, or null if the dialect sends none (docker). */
  ackFrame(commandId: string, now: Date): OutboundFrame | null;
  /** A command's failure, also used when a handler throws. */
  failedFrame(commandId: string, error: string, now: Date): OutboundFrame;
  /** Validates one text message from the server; never throws. */
  parseServerMessage(text: string): ServerMessage;
  /** The answer to a valid non-command message of `type`, or null to leave it unanswered. */
  controlReply(type: string, agentId: string, now: Date): ControlReply | null;
  /** Handles one command after its ack and simulated work; pure apart from `ctx` and the dialect's own platform state. */
  handleCommand(command: Command, ctx: CommandContext): CommandOutcome;
  /**
   * Sessions running on the simulated platform, for dialects that keep track of them (docker's
   * containers); undefined lets the agent count starts and stops itself.
   */
  activeSessions?(): number;
}

/**
 * A dialect for one agent. Stateless dialects are shared; the docker dialect is built fresh
 * each time because it remembers the containers it started (pass one instance to several
 * agents to let them share a simulated Docker host).
 */
export function getDialect(name: DialectName): Dialect {
  switch (name) {
    case "k8s":
      return k8sDialect;
    case "docker":
      return createDockerDialect();
  }
}
