/**
 * Agent options: validated once, when the agent is built, so a typo fails loudly at startup
 * instead of as a mysterious reconnect loop. Durations are milliseconds so tests can run fast;
 * the CLI converts its seconds.
 */
import { z } from "zod";
import { DEFAULT_BACKOFF } from "./backoff";
import { DEFAULT_LEDGER_LIMIT } from "./command-ledger";
import type { Command, Dialect, OutboundFrame } from "./dialect";
import { DIALECT_NAMES, PLATFORMS } from "./dialect";

/** Where `npm run dev` serves the control plane. */
export const DEFAULT_URL = "ws://127.0.0.1:8787";

const ms = z.number().int().nonnegative();
const positiveInt = z.number().int().positive();

/** The platform each dialect's real agent registers with unless told otherwise. */
const DEFAULT_PLATFORM = { k8s: "kubernetes", docker: "docker" } as const;

/** Schema of the data part of {@link AgentOptions}. */
export const AgentConfigSchema = z
  .object({
    // The control plane wants 3..100 characters; shorter ids are allowed so tests can watch
    // the agent cope with the 400 it gets back.
    agentId: z.string().min(1).max(100),
    url: z
      .string()
      .default(DEFAULT_URL)
      .refine((u) => URL.canParse(u) && /^wss?:$/.test(new URL(u).protocol), "must be a ws:// or wss:// URL"),
    apiKey: z.string().regex(/^[0-9a-fA-F]{64}$/, "must be 64 hexadecimal characters"),
    /** Defaults to the dialect's own: "kubernetes" for k8s, "docker" for docker. */
    platform: z.enum(PLATFORMS).optional(),
    region: z.string().min(1).default("default"),
    dialect: z.enum(DIALECT_NAMES).default("k8s"),
    /**
     * Reconnect (with backoff) after the socket closes. The real docker-agent never does: its
     * read loop ends on the first error and the process idles until killed. Reconnecting is a
     * deliberate convenience for tests and demos; `false` mimics docker-agent and stops the
     * agent once its first connection has closed. Failures before a socket opened (e.g. a
     * refused registration) are retried either way.
     */
    reconnect: z.boolean().default(true),
    /** Simulated work between a command's ack and its result. */
    workMs: ms.default(500),
    heartbeatMs: positiveInt.default(30_000),
    /** The real agent waits one interval; tests may want a heartbeat right away. */
    heartbeatOnConnect: z.boolean().default(false),
    approvalPollMs: positiveInt.default(30_000),
    backoff: z
      .object({ minMs: ms, maxMs: ms })
      .refine((b) => b.maxMs >= b.minMs, "maxMs must be >= minMs")
      .default({ ...DEFAULT_BACKOFF }),
    /** A connection that lasted this long resets the backoff. */
    stableMs: ms.default(10_000),
    /**
     * Recognise a command id seen before: a queued repeat is dropped, a finished one answered
     * with its final frame again. The real agents do not: they run every command frame they
     * read, repeats included, so that is the default, and the server's at-least-once delivery is
     * tested against it. A convenience for demos that would rather not run a command twice.
     */
    dedupe: z.boolean().default(false),
    /** Finished command ids remembered for deduplication. */
    dedupLimit: positiveInt.default(DEFAULT_LEDGER_LIMIT),
  })
  .strict()
  .transform((c) => ({ ...c, platform: c.platform ?? DEFAULT_PLATFORM[c.dialect] }));

/** Validated, defaulted configuration. */
export type AgentConfig = z.output<typeof AgentConfigSchema>;
/** Configuration as callers write it (defaults optional). */
export type AgentConfigInput = z.input<typeof AgentConfigSchema>;

/** Agent lifecycle states, in the order a healthy start goes through them. */
export type AgentState = "idle" | "registering" | "awaiting_approval" | "connecting" | "connected" | "backoff" | "stopped";

/** How a received command was treated. */
export type CommandDisposition = "new" | "repeat_run" | "duplicate_finished" | "duplicate_pending";

/** Callbacks and injectable sources; none are validated, all are optional. */
export interface AgentHooks {
  /** One human-readable line per event, already prefixed with `[agent <id>]`. Default: silent. */
  log?: (line: string) => void;
  onStateChange?: (state: AgentState, previous: AgentState) => void;
  /** Every command frame received, before it is queued (or recognised as a repeat). */
  onCommand?: (command: Command, disposition: CommandDisposition) => void;
  /** A command's final frame was produced (sent if connected). */
  onCommandDone?: (command: Command, final: OutboundFrame) => void;
  /** Every frame actually written to the socket. */
  onFrameSent?: (frame: OutboundFrame) => void;
  /** Time source for frame timestamps. */
  now?: () => Date;
  /** `[0, 1)` source for jitter and pod names. */
  random?: () => number;
  /** HTTP client for registration. */
  fetch?: typeof fetch;
  /**
   * A dialect instance to use instead of a fresh one (its name must match `dialect`). Agents
   * given the same instance share its simulated platform, e.g. one Docker host's containers, as
   * HA replicas of one agent share the daemon they manage.
   */
  sharedDialect?: Dialect;
}

/** Everything {@link ReferenceAgent} accepts. */
export type AgentOptions = AgentConfigInput & AgentHooks;

/** Splits options into validated config (throws a ZodError on bad input) and hooks. */
export function parseAgentOptions(options: AgentOptions): { config: AgentConfig; hooks: AgentHooks } {
  const { log, onStateChange, onCommand, onCommandDone, onFrameSent, now, random, fetch, sharedDialect, ...data } = options;
  const hooks: AgentHooks = { log, onStateChange, onCommand, onCommandDone, onFrameSent, now, random, fetch, sharedDialect };
  return { config: AgentConfigSchema.parse(data), hooks };
}
