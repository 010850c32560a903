/**
 * The agent wire protocol (spec §1.6–1.8): schemas for every agent→server frame we act on, and
 * the encoder for server→agent frames. The only place frames are parsed.
 */
import { z } from "zod";
import type { CommandRow } from "../db/schema";
import { CapacitySchema } from "../lib/capacity";
import { isJsonObject } from "../lib/json";
import { containsNul, mayHoldLoneSurrogate, wellFormed } from "../lib/text";

/** Largest inbound frame the original accepted (gorilla SetReadLimit, spec §1.10). */
export const MAX_FRAME_BYTES = 512 * 1024;

/**
 * Largest command payload (a template's manifest, an admin command's payload), encoded: its frame
 * must fit docker-agent's own 512 KiB read limit, past which it closes its socket and never
 * reconnects, and every command sent to it again later takes it down again. The 32 KiB left
 * hold the rest of a start's payload (ids, resources, tags: a few KiB at most).
 */
export const MAX_COMMAND_PAYLOAD_BYTES = MAX_FRAME_BYTES - 32 * 1024;

/** Whether `value`, encoded as JSON, fits MAX_COMMAND_PAYLOAD_BYTES (counted in UTF-8 bytes). */
export function fitsACommandFrame(value: unknown): boolean {
  const text = JSON.stringify(value) ?? "";
  if (text.length * 3 <= MAX_COMMAND_PAYLOAD_BYTES) return true;
  return text.length <= MAX_COMMAND_PAYLOAD_BYTES && new TextEncoder().encode(text).byteLength <= MAX_COMMAND_PAYLOAD_BYTES;
}

/** The validation message for a payload that does not fit (see MAX_COMMAND_PAYLOAD_BYTES). */
export const TOO_LARGE_FOR_A_FRAME = `must encode to at most ${MAX_COMMAND_PAYLOAD_BYTES / 1024} KiB of JSON: its command must fit the agents' 512 KiB message limit`;

// Agents send RFC 3339 strings (k8s), integers (docker), null, or nothing (k8s `status`).
const Timestamp = z.union([z.string(), z.number(), z.null()]).optional();
const Id = z.string().min(1).max(255);
/**
 * An agent's error text, cut to a length an error message needs. Cut, not refused: refusing
 * the frame would leave its command running until the run lease ends (15 min), then retry it.
 */
const MAX_ERROR_LENGTH = 10_000;
// A cut through a surrogate pair would leave half a character, which Neon's endpoint refuses.
const ErrorText = z.string().transform((s) => s.slice(0, MAX_ERROR_LENGTH).replace(/[\uD800-\uDBFF]$/, ""));

const Heartbeat = z.object({
  type: z.literal("heartbeat"),
  timestamp: Timestamp,
  payload: z.object({
    status: z.string().optional(),
    activeSessions: z.number().int().optional(),
    capacity: CapacitySchema.nullish(),
  }),
});

const Ack = z.object({ type: z.literal("ack"), timestamp: Timestamp, payload: z.object({ commandId: Id }) });

const Complete = z.object({
  type: z.literal("complete"),
  timestamp: Timestamp,
  payload: z.object({ commandId: Id, result: z.record(z.string(), z.unknown()).nullish() }),
});

const Failed = z.object({
  type: z.literal("failed"),
  timestamp: Timestamp,
  payload: z.object({ commandId: Id, error: ErrorText.default("") }),
});

const Status = z.object({
  type: z.literal("status"),
  timestamp: Timestamp,
  payload: z.object({
    sessionId: Id,
    state: z.string().min(1).max(50),
    vncReady: z.boolean().optional(),
    vncPort: z.number().int().optional(),
    platformMetadata: z.object({ podName: z.string().optional() }).passthrough().nullish(),
  }),
});

// docker-agent's own messages: top-level fields, no payload (spec §1.7). It sends no `ack`.
const CommandError = z.object({
  type: z.literal("command_error"),
  timestamp: Timestamp,
  commandId: Id,
  error: ErrorText.default(""),
});

const CommandResponse = z.object({
  type: z.literal("command_response"),
  timestamp: Timestamp,
  success: z.boolean(),
  sessionId: Id,
  status: z.string().max(50).optional(),
  container: z.record(z.string(), z.unknown()).nullish(),
  error: ErrorText.optional(),
});

const AgentFrame = z.discriminatedUnion("type", [Heartbeat, Ack, Complete, Failed, Status, CommandError, CommandResponse]);
export type AgentFrame = z.infer<typeof AgentFrame>;

/**
 * A frame's size in bytes, as the original's read limit counts it (a text frame arrives here
 * decoded: its UTF-8 length, computed only when the UTF-16 length leaves it in doubt).
 */
export function frameBytes(message: string | ArrayBuffer): number {
  if (typeof message !== "string") return message.byteLength;
  if (message.length > MAX_FRAME_BYTES || message.length * 3 <= MAX_FRAME_BYTES) return message.length;
  return new TextEncoder().encode(message).byteLength;
}

/**
 * Parses one WebSocket message. Returns null for anything that is not a frame we act on: bad
 * JSON, unknown types, undecodable payloads. Callers ignore null without a reply (spec §1.12).
 */
export function parseAgentFrame(message: string | ArrayBuffer): AgentFrame | null {
  const text = typeof message === "string" ? message : new TextDecoder().decode(message);
  let json: unknown;
  try {
    // Postgres cannot store NUL in text or jsonb, nor Neon's endpoint take half a surrogate
    // pair, so NULs are taken out and each half replaced by U+FFFD (an error text with a
    // container's binary output, say): refusing the frame would leave its command running until
    // its lease ran out, and run it again.
    json = JSON.parse(text, containsNul(text) || mayHoldLoneSurrogate(text) ? storable : undefined);
  } catch {
    return null;
  }
  const parsed = AgentFrame.safeParse(withoutNullFields(json));
  return parsed.success ? parsed.data : null;
}

/**
 * The frame with its fields, and its payload's, that are `null` left out: Go's decoder, the
 * original's, reads a `null` as the field's zero value, so a frame with `"vncPort": null` was
 * applied, not ignored. Objects inside (a result, the pod's metadata) are kept as they came.
 */
function withoutNullFields(json: unknown): unknown {
  if (!isJsonObject(json)) return json;
  // Every frame passes here: copied only when it has a null (agents rarely send one).
  const frame = withoutNulls(json);
  const payload = frame["payload"];
  return isJsonObject(payload) && Object.values(payload).includes(null) ? { ...frame, payload: withoutNulls(payload) } : frame;
}

function withoutNulls(o: Record<string, unknown>): Record<string, unknown> {
  return Object.values(o).includes(null) ? Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null)) : o;
}

/** JSON.parse reviver: every string, and every key, without NUL characters or half surrogate pairs. */
function storable(_key: string, value: unknown): unknown {
  if (typeof value === "string") return storableText(value);
  if (isJsonObject(value) && Object.keys(value).some((k) => storableText(k) !== k)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [storableText(k), v]));
  }
  return value;
}

function storableText(text: string): string {
  return wellFormed(text.replaceAll("\0", ""));
}

/**
 * Encodes a command for the agent: exactly one JSON object, no `timestamp` (docker-agent reads
 * it as an integer, k8s-agent as a string: any value breaks one of them; checklist 12–14).
 */
export function encodeCommandFrame(cmd: Pick<CommandRow, "commandId" | "action" | "payload">): string {
  return JSON.stringify({
    type: "command",
    payload: { commandId: cmd.commandId, action: cmd.action, payload: cmd.payload ?? {} },
  });
}
