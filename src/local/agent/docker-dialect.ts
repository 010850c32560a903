/**
 * The StreamSpace docker-agent dialect: its registration body, frames and (simulated) command
 * handling, copied from the Go agent where the control plane could notice. docker-agent differs
 * from k8s-agent in ways a control plane must survive: it never acks, it answers with flat
 * `command_response`/`command_error` frames (no `payload`, `commandId` only on errors), its
 * timestamps are integer Unix seconds, and it decodes every server message's `timestamp` as an
 * int64, so a server frame with a string timestamp is lost on it.
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

/** Capacity docker-agent advertises at registration and in every heartbeat (its config defaults). */
export const DOCKER_CAPACITY = { maxCpu: 100, maxMemory: 128, maxSessions: 100 } as const;

/** Registration metadata: docker-agent's default daemon socket, network and volume driver. */
export const DOCKER_METADATA = {
  dockerHost: "unix:///var/run/docker.sock",
  networkName: "streamspace",
  volumeDriver: "local",
} as const;

/**
 * docker-agent checks for exactly 200/201: a 202 (registered, approval pending) is an error to
 * it, and it reads neither `approvalStatus` nor `apiKey` from the body.
 */
export const DOCKER_REGISTRATION: RegistrationPolicy = {
  acceptedStatuses: new Set([200, 201]),
  followsApproval: false,
};

/** First three octets of simulated container addresses; `.1` is the bridge's gateway. */
const NETWORK_PREFIX = "172.18.0.";
const FIRST_HOST = 2;
const LAST_HOST = 254;

/** `time.Now().Unix()`: whole seconds, as a JSON integer. */
export function unixSeconds(now: Date): number {
  return Math.floor(now.getTime() / 1000);
}

/** Frame builders; exported for tests that assert exact shapes. */
export const dockerFrames = {
  heartbeat(activeSessions: number, now: Date): EnvelopeFrame {
    return {
      type: "heartbeat",
      timestamp: unixSeconds(now),
      payload: { status: "online", activeSessions, capacity: { ...DOCKER_CAPACITY } },
    };
  },
  /** docker-agent's only way of naming a command in a reply: no payload, no timestamp. */
  commandError(commandId: string, error: string): FlatFrame {
    return { type: "command_error", commandId, error };
  },
  started(sessionId: string, container: DockerContainer, now: Date): FlatFrame {
    return {
      type: "command_response",
      success: true,
      sessionId,
      status: "running",
      container: { id: container.id, ip: container.ip },
      timestamp: unixSeconds(now),
    };
  },
  stopped(sessionId: string, now: Date): FlatFrame {
    return { type: "command_response", success: true, sessionId, status: "terminated", timestamp: unixSeconds(now) };
  },
  /** A Docker operation failed after validation: still a `command_response`, not a `command_error`. */
  operationFailed(sessionId: string, error: string, now: Date): FlatFrame {
    return { type: "command_response", success: false, sessionId, error, timestamp: unixSeconds(now) };
  },
  pong(agentId: string): FlatFrame {
    return { type: "pong", agentId };
  },
  shutdownAck(agentId: string): FlatFrame {
    return { type: "shutdown_ack", agentId };
  },
};

/** One simulated session container. */
export interface DockerContainer {
  /** 64 lowercase hex digits, like a real container id. */
  id: string;
  ip: string;
}

/**
 * The containers on one simulated Docker daemon, by session id. docker-agent finds a session's
 * container by label on the daemon, so whoever shares the daemon (HA replicas of one agent)
 * must share this object; a fresh agent on its own gets an empty host.
 */
export class SimulatedDockerHost {
  private readonly containers = new Map<string, DockerContainer>();

  /** Containers currently running. */
  get size(): number {
    return this.containers.size;
  }

  find(sessionId: string): DockerContainer | undefined {
    return this.containers.get(sessionId);
  }

  /** Runs a container for `sessionId` on the lowest free address, as Docker's IPAM does. */
  create(sessionId: string, random: () => number): DockerContainer {
    const used = new Set([...this.containers.values()].map((c) => c.ip));
    let ip: string | undefined;
    for (let n = FIRST_HOST; n <= LAST_HOST && !ip; n++) {
      if (!used.has(NETWORK_PREFIX + n)) ip = NETWORK_PREFIX + n;
    }
    if (!ip) throw new Error(`no available IPv4 addresses on network ${DOCKER_METADATA.networkName}`);
    const container = { id: containerId(random), ip };
    this.containers.set(sessionId, container);
    return container;
  }

  /** Stops and removes the session's container; false if there was none. */
  remove(sessionId: string): boolean {
    return this.containers.delete(sessionId);
  }
}

function containerId(random: () => number): string {
  let id = "";
  for (let i = 0; i < 64; i++) id += Math.min(15, Math.floor(random() * 16)).toString(16);
  return id;
}

/**
 * The Go agent's `AgentMessage{Type string; Timestamp int64; Payload json.RawMessage}`. Any
 * field of the wrong type fails `json.Unmarshal` for the whole message, which is then dropped;
 * null leaves a field at its zero value.
 */
const Envelope = z.object({
  type: z.string().nullish(),
  timestamp: z.number().int().nullish(),
  payload: z.unknown().optional(),
});

/** `CommandMessage{CommandID, Action string; Payload map[string]interface{}}`. */
const CommandMessage = z.object({
  // Go would run a command without an id under "" (and answer it); the ledger needs a real id.
  commandId: z.string().min(1),
  action: z.string().nullish(),
  payload: z.record(z.string(), z.unknown()).nullish(),
});

/** Parses one server message the way docker-agent decodes it: a command, another type, or garbage. */
export function parseDockerServerMessage(text: string): ServerMessage {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { kind: "malformed", reason: "not JSON" };
  }
  const envelope = Envelope.safeParse(json);
  if (!envelope.success) {
    const issue = envelope.error.issues[0];
    return { kind: "malformed", reason: `undecodable message: ${issue ? `${issue.path.join(".")} ${issue.message}` : "invalid"}` };
  }
  const type = envelope.data.type ?? "";
  if (type !== "command") return { kind: "ignored", type };
  // A missing payload is an empty json.RawMessage, which fails to decode.
  const parsed = CommandMessage.safeParse(envelope.data.payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { kind: "malformed", reason: `bad command: ${issue ? `${issue.path.join(".")} ${issue.message}` : "invalid"}` };
  }
  const { commandId, action, payload } = parsed.data;
  return { kind: "command", command: { commandId, action: action ?? "", payload: payload ?? {} } };
}

/** docker-agent answers `ping` with a pong and `shutdown` with an ack, then stops. */
export function dockerControlReply(type: string, agentId: string): ControlReply | null {
  if (type === "ping") return { frame: dockerFrames.pong(agentId), thenStop: false };
  if (type === "shutdown") return { frame: dockerFrames.shutdownAck(agentId), thenStop: true };
  return null;
}

const nonEmpty = (v: unknown): v is string => typeof v === "string" && v.length > 0;
const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

/** Go's `%T` of a decoded JSON value, for the "invalid type" message. */
function goTypeName(v: unknown): string {
  if (v === null) return "<nil>";
  if (Array.isArray(v)) return "[]interface {}";
  switch (typeof v) {
    case "string":
      return "string";
    case "number":
      return "float64";
    case "boolean":
      return "bool";
    default:
      return "map[string]interface {}";
  }
}

/** `parseTemplateFromPayload`'s checks, in its order; returns its error text or null. */
function templateError(payload: JsonObject): string | null {
  if (!Object.hasOwn(payload, "templateManifest")) return "templateManifest not found in payload";
  const manifest = payload["templateManifest"];
  if (!isObject(manifest)) return `templateManifest has invalid type: ${goTypeName(manifest)}`;
  if (!isObject(manifest["spec"])) return "invalid template spec";
  if (!isObject(manifest["metadata"])) return "invalid template metadata";
  return null;
}

type Handler = (cmd: Command, ctx: CommandContext, host: SimulatedDockerHost) => CommandOutcome;

/** A handler's returned error, which docker-agent wraps as "command failed: …". */
function commandFailed(cmd: Command, error: string): CommandOutcome {
  const final = dockerFrames.commandError(cmd.commandId, `command failed: ${error}`);
  return { frames: [final], final, ok: false, sessionDelta: 0 };
}

function reply(final: FlatFrame, ok: boolean, sessionDelta: number): CommandOutcome {
  return { frames: [final], final, ok, sessionDelta };
}

// A Map, not an object literal, so actions like "constructor" cannot hit prototype members.
const HANDLERS = new Map<string, Handler>([
  [
    "start_session",
    (cmd, ctx, host) => {
      const { sessionId, user } = cmd.payload;
      if (!nonEmpty(sessionId)) return commandFailed(cmd, "sessionId not found in payload");
      if (!nonEmpty(user)) return commandFailed(cmd, "user not found in payload");
      const invalid = templateError(cmd.payload);
      if (invalid) return commandFailed(cmd, `failed to parse template: ${invalid}`);
      const existing = host.find(sessionId);
      if (existing) {
        // What the daemon says when a second start reuses the container name streamspace-<id>.
        const conflict =
          `Failed to create container: failed to create container: Error response from daemon: Conflict. ` +
          `The container name "/streamspace-${sessionId}" is already in use by container "${existing.id}". ` +
          `You have to remove (or rename) that container to be able to reuse that name.`;
        return reply(dockerFrames.operationFailed(sessionId, conflict, ctx.now()), false, 0);
      }
      const container = host.create(sessionId, ctx.random);
      return reply(dockerFrames.started(sessionId, container, ctx.now()), true, 1);
    },
  ],
  [
    "stop_session",
    (cmd, ctx, host) => {
      const { sessionId } = cmd.payload;
      if (!nonEmpty(sessionId)) return commandFailed(cmd, "sessionId not found in payload");
      if (!host.remove(sessionId)) {
        const error = `Container not found: container not found for session: ${sessionId}`;
        return reply(dockerFrames.operationFailed(sessionId, error, ctx.now()), false, 0);
      }
      return reply(dockerFrames.stopped(sessionId, ctx.now()), true, -1);
    },
  ],
  // Stubs in docker-agent: they fail before looking at the payload.
  ["hibernate_session", (cmd) => commandFailed(cmd, "hibernation not yet implemented for Docker agent")],
  ["wake_session", (cmd) => commandFailed(cmd, "wake not yet implemented for Docker agent")],
]);

/**
 * Produces docker-agent's reply to one command: `command_response` for start/stop (success or
 * a Docker failure), `command_error` for validation errors, stubs and unknown actions.
 */
export function handleDockerCommand(cmd: Command, ctx: CommandContext, host: SimulatedDockerHost): CommandOutcome {
  const handler = HANDLERS.get(cmd.action);
  if (!handler) {
    const final = dockerFrames.commandError(cmd.commandId, `unknown command action: ${cmd.action}`);
    return { frames: [final], final, ok: false, sessionDelta: 0 };
  }
  return handler(cmd, ctx, host);
}

/** A docker-agent dialect on `host` (a fresh, empty one unless shared). */
export function createDockerDialect(host: SimulatedDockerHost = new SimulatedDockerHost()): Dialect {
  return {
    name: "docker",
    registration: DOCKER_REGISTRATION,
    registrationBody(info: RegistrationInfo): JsonObject {
      return {
        agentId: info.agentId,
        platform: info.platform,
        region: info.region,
        capacity: { ...DOCKER_CAPACITY },
        metadata: { ...DOCKER_METADATA },
      };
    },
    heartbeatFrame: dockerFrames.heartbeat,
    ackFrame: () => null,
    failedFrame: (commandId, error) => dockerFrames.commandError(commandId, error),
    parseServerMessage: parseDockerServerMessage,
    controlReply: (type, agentId) => dockerControlReply(type, agentId),
    handleCommand: (command, ctx) => handleDockerCommand(command, ctx, host),
    activeSessions: () => host.size,
  };
}
