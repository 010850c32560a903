/**
 * The StreamSpace k8s-agent dialect: its registration body, frames and (simulated) command
 * handling. Frame shapes copy the real agent byte for byte where the control plane could notice:
 * RFC 3339 string timestamps everywhere except `status`, which the k8s agent sends without one.
 */
import { z } from "zod";
import type {
  Command,
  CommandContext,
  CommandOutcome,
  ControlReply,
  Dialect,
  EnvelopeFrame,
  FlatFrame,
  JsonObject,
  RegistrationInfo,
  RegistrationPolicy,
  ServerMessage,
} from "./dialect";

/** Capacity the simulated cluster advertises at registration and in every heartbeat. */
export const K8S_CAPACITY = { maxSessions: 100, cpu: "64 cores", memory: "256Gi" } as const;

/** Every simulated pod gets this address; the control plane only displays it. */
export const K8S_POD_IP = "10.1.0.23";

/** Port of the session's VNC endpoint inside the pod. */
export const K8S_VNC_PORT = 3000;

// Kubernetes' own alphabet for generated name suffixes (no vowels, no look-alikes).
const POD_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

const Envelope = z.object({ type: z.string() });

const CommandMessage = z.object({
  type: z.literal("command"),
  payload: z.object({
    commandId: z.string().min(1),
    action: z.string(),
    // The server always sends an object; null/absent is tolerated as "no parameters".
    payload: z.record(z.string(), z.unknown()).nullish(),
  }),
});

/** Parses one server message: a command, another (ignored) type, or garbage. */
export function parseK8sServerMessage(text: string): ServerMessage {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { kind: "malformed", reason: "not JSON" };
  }
  const envelope = Envelope.safeParse(json);
  if (!envelope.success) return { kind: "malformed", reason: "not an object with a string `type`" };
  if (envelope.data.type !== "command") return { kind: "ignored", type: envelope.data.type };
  const parsed = CommandMessage.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { kind: "malformed", reason: `bad command: ${issue ? `${issue.path.join(".")} ${issue.message}` : "invalid"}` };
  }
  const { commandId, action, payload } = parsed.data.payload;
  return { kind: "command", command: { commandId, action, payload: payload ?? {} } };
}

/** A `<sessionId>-xxxxx` pod name, as a Deployment's ReplicaSet would generate. */
export function k8sPodName(sessionId: string, random: () => number): string {
  let suffix = "";
  for (let i = 0; i < 5; i++) {
    const index = Math.min(POD_SUFFIX_ALPHABET.length - 1, Math.floor(random() * POD_SUFFIX_ALPHABET.length));
    suffix += POD_SUFFIX_ALPHABET[index];
  }
  return `${sessionId}-${suffix}`;
}

/**
 * k8s-agent counts 202 (registered, approval pending) as a success and then polls; it also
 * picks up an `apiKey` the server issues.
 */
export const K8S_REGISTRATION: RegistrationPolicy = {
  acceptedStatuses: new Set([200, 201, 202]),
  followsApproval: true,
};

/** Frame builders; exported for tests that assert exact shapes. */
export const k8sFrames = {
  heartbeat(activeSessions: number, now: Date): EnvelopeFrame {
    return {
      type: "heartbeat",
      timestamp: now.toISOString(),
      payload: { status: "online", activeSessions, capacity: { ...K8S_CAPACITY } },
    };
  },
  ack(commandId: string, now: Date): EnvelopeFrame {
    return { type: "ack", timestamp: now.toISOString(), payload: { commandId } };
  },
  complete(commandId: string, result: JsonObject, now: Date): EnvelopeFrame {
    return { type: "complete", timestamp: now.toISOString(), payload: { commandId, result } };
  },
  failed(commandId: string, error: string, now: Date): EnvelopeFrame {
    return { type: "failed", timestamp: now.toISOString(), payload: { commandId, error } };
  },
  /** No `timestamp`: the k8s agent's status message has none. */
  status(sessionId: string, podName: string): EnvelopeFrame {
    return {
      type: "status",
      payload: {
        sessionId,
        state: "running",
        vncReady: true,
        vncPort: K8S_VNC_PORT,
        platformMetadata: { podName, podIP: K8S_POD_IP },
      },
    };
  },
  /** The answer to a server `ping`: flat, with an RFC 3339 timestamp and nothing else. */
  pong(now: Date): FlatFrame {
    return { type: "pong", timestamp: now.toISOString() };
  },
};

/** k8s-agent answers `ping` and ignores every other non-command message. */
export function k8sControlReply(type: string, _agentId: string, now: Date): ControlReply | null {
  return type === "ping" ? { frame: k8sFrames.pong(now), thenStop: false } : null;
}

const nonEmpty = (v: unknown): v is string => typeof v === "string" && v.length > 0;

type Handler = (cmd: Command, ctx: CommandContext) => CommandOutcome;

function fail(cmd: Command, error: string, ctx: CommandContext): CommandOutcome {
  const final = k8sFrames.failed(cmd.commandId, error, ctx.now());
  return { frames: [final], final, ok: false, sessionDelta: 0 };
}

function complete(cmd: Command, result: JsonObject, ctx: CommandContext, sessionDelta = 0): CommandOutcome {
  const final = k8sFrames.complete(cmd.commandId, result, ctx.now());
  return { frames: [final], final, ok: true, sessionDelta };
}

/** Builds a handler for the actions that only need a sessionId. */
function sessionAction(build: (sessionId: string, ctx: CommandContext) => { result: JsonObject; delta: number }): Handler {
  return (cmd, ctx) => {
    const sessionId = cmd.payload["sessionId"];
    if (typeof sessionId !== "string") return fail(cmd, "missing sessionId", ctx);
    const { result, delta } = build(sessionId, ctx);
    return complete(cmd, result, ctx, delta);
  };
}

// A Map, not an object literal, so actions like "constructor" cannot hit prototype members.
const HANDLERS = new Map<string, Handler>([
  [
    "start_session",
    (cmd, ctx) => {
      const { sessionId, user, template } = cmd.payload;
      if (!nonEmpty(sessionId) || !nonEmpty(user) || !nonEmpty(template)) {
        return fail(cmd, "missing or invalid sessionId/user/template", ctx);
      }
      // k8s-agent builds the pod from templateManifest.spec.baseImage (lower-case keys; spec §1.9);
      // without it the real agent reads a Template CRD, which this simulated cluster has none of.
      const manifest = cmd.payload["templateManifest"];
      const spec = typeof manifest === "object" && manifest !== null ? (manifest as JsonObject)["spec"] : undefined;
      const baseImage = typeof spec === "object" && spec !== null ? (spec as JsonObject)["baseImage"] : undefined;
      if (!nonEmpty(baseImage)) {
        return fail(cmd, `failed to get template ${template}: templateManifest has no spec.baseImage, and no Template CRD exists`, ctx);
      }
      const podName = k8sPodName(sessionId, ctx.random);
      const result = {
        sessionId,
        deployment: sessionId,
        service: sessionId,
        pvc: "",
        podName,
        podIP: K8S_POD_IP,
        vncPort: K8S_VNC_PORT,
        state: "running",
      };
      const final = k8sFrames.complete(cmd.commandId, result, ctx.now());
      return { frames: [k8sFrames.status(sessionId, podName), final], final, ok: true, sessionDelta: 1 };
    },
  ],
  ["stop_session", sessionAction((sessionId) => ({ result: { sessionId, state: "terminated" }, delta: -1 }))],
  ["hibernate_session", sessionAction((sessionId) => ({ result: { sessionId, state: "hibernated" }, delta: 0 }))],
  [
    "wake_session",
    sessionAction((sessionId, ctx) => ({
      result: {
        sessionId,
        podName: k8sPodName(sessionId, ctx.random),
        podIP: K8S_POD_IP,
        vncPort: K8S_VNC_PORT,
        state: "running",
      },
      delta: 0,
    })),
  ],
]);

/**
 * Produces the frames that follow a command's ack: `status` + `complete` for a good
 * `start_session`, `complete` for the other known actions, `failed` otherwise.
 */
export function handleK8sCommand(cmd: Command, ctx: CommandContext): CommandOutcome {
  const handler = HANDLERS.get(cmd.action);
  return handler ? handler(cmd, ctx) : fail(cmd, `unknown action: ${cmd.action}`, ctx);
}

/** The k8s-agent dialect. */
export const k8sDialect: Dialect = {
  name: "k8s",
  registration: K8S_REGISTRATION,
  registrationBody(info: RegistrationInfo): JsonObject {
    return {
      agentId: info.agentId,
      platform: info.platform,
      region: info.region,
      capacity: { ...K8S_CAPACITY },
      metadata: { namespace: "streamspace", kubernetes: true },
    };
  },
  heartbeatFrame: k8sFrames.heartbeat,
  ackFrame: k8sFrames.ack,
  failedFrame: k8sFrames.failed,
  parseServerMessage: parseK8sServerMessage,
  controlReply: k8sControlReply,
  handleCommand: handleK8sCommand,
};
