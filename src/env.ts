/**
 * The Worker's configuration: vars and secrets parsed once per invocation, and the Hono
 * context types. A missing or malformed value fails with a message naming the key.
 */
import { z } from "zod";
import type { Db } from "./db/client";
import { AppError } from "./errors";
import type { Logger } from "./lib/log";

const ConfigSchema = z.object({
  DATABASE_URL: z.string().url("DATABASE_URL must be a postgres:// URL"),
  JWT_SECRET: z.string().min(16, "JWT_SECRET must be at least 16 characters"),
  AGENT_BOOTSTRAP_KEY: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, "AGENT_BOOTSTRAP_KEY must be 64 hex characters")
    .or(z.literal("")),
  PLATFORM: z.enum(["kubernetes", "docker", "vm", "cloud"]).default("kubernetes"),
  SWEEP_PENDING_GRACE_SECONDS: z.coerce.number().int().min(0).default(5),
  DB_WS_PROXY: z.string().default(""),
  DB_PIPELINE_CONNECT: z.enum(["true", "false"]).default("false").transform((v) => v === "true"),
  RATE_LIMIT_ENABLED: z.enum(["true", "false"]).default("true").transform((v) => v === "true"),
  ACK_LEASE_SECONDS: z.coerce.number().int().min(1).default(60),
  RUN_LEASE_SECONDS: z.coerce.number().int().min(1).default(900),
  MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(5),
  COMMAND_TTL: z
    .string()
    .default("")
    .transform((text, ctx) => {
      const ttl: Record<string, number> = {};
      for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
        const [action, seconds] = part.split("=");
        const n = Number(seconds);
        if (!action || !Number.isInteger(n) || n <= 0) {
          ctx.addIssue({ code: "custom", message: `COMMAND_TTL entries are action=seconds, got "${part}"` });
          return z.NEVER;
        }
        ttl[action.trim()] = n;
      }
      return ttl;
    }),
  RETENTION_DAYS: z.coerce.number().int().min(1).default(30),
  DB_CONNECT_TIMEOUT_SECONDS: z.coerce.number().positive().default(30),
  DB_STATEMENT_TIMEOUT_SECONDS: z.coerce.number().positive().default(60),
});

export type Config = z.infer<typeof ConfigSchema>;

const cache = new WeakMap<object, Config>();

/**
 * Parses `env` into a Config; throws a 500 `Invalid configuration` naming every bad key (the
 * answer names the keys; the log, through the error's cause, also what is wrong with each).
 * Cached per env object.
 */
export function readConfig(env: Env): Config {
  const hit = cache.get(env);
  if (hit) return hit;
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    const keys = [...new Set(parsed.error.issues.map((i) => i.path.join(".")))];
    throw new AppError("internal", "Invalid configuration", `The deployment's settings are invalid: ${keys.join(", ")} (see its log).`, {}, {
      cause: new Error(`invalid configuration: ${problems.join("; ")}`),
    });
  }
  cache.set(env, parsed.data);
  return parsed.data;
}

/** A user as the JWT middleware verified it. */
export type UserPrincipal = { userId: string; isAdmin: boolean };

/** An agent as the agent-key middleware verified it. */
export type AgentPrincipal = {
  agentId: string;
  /** True when the bootstrap key, not the agent's own key, authenticated the request. */
  bootstrap: boolean;
  /** Whether the agent's row existed when the request was authenticated. */
  registered: boolean;
  /** Its approval status then (`approved`, `pending`, `rejected`; "" if unregistered or unset). */
  approvalStatus: string;
  /** When the credentials were checked (ms, taken before the agent's row was read). */
  authorizedAt: number;
};

export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    log: Logger;
    config: Config;
    db: Db;
    user: UserPrincipal;
    agent: AgentPrincipal;
  };
};
