/**
 * CLI for the reference agent:
 *
 *   npm run agent -- --id <agent-id> [--url ws://127.0.0.1:8787] [--key <64-hex>]
 *     [--dialect k8s|docker] [--platform kubernetes] [--work-ms 500] [--heartbeat-s 30]
 *     [--approval-poll-s 30] [--heartbeat-on-connect] [--no-reconnect] [--dedupe]
 *     [--replicas 1] [--failover-every-s 0]
 *
 * `--url`, `--id` and `--key` fall back to CONTROL_PLANE_URL, AGENT_ID and AGENT_API_KEY.
 * `--replicas N` runs N replicas of the agent with one leader (see replica-set.ts);
 * `--failover-every-s S` kills the leader every S seconds to show the fail-over.
 * Runs until SIGINT/SIGTERM, then closes the socket cleanly and exits.
 */
import { parseArgs } from "node:util";
import { ZodError } from "zod";
import type { DialectName, Platform } from "./dialect";
import type { AgentOptions } from "./options";
import { DEFAULT_URL } from "./options";
import { ReplicaSet } from "./replica-set";

const USAGE = `usage: npm run agent -- --id <agent-id> [--url ${DEFAULT_URL}] [--key <64-hex>]
  [--dialect k8s|docker] [--platform kubernetes|docker] [--work-ms 500] [--heartbeat-s 30]
  [--approval-poll-s 30] [--heartbeat-on-connect] [--no-reconnect] [--dedupe]
  [--replicas 1] [--failover-every-s 0]
env fallbacks: CONTROL_PLANE_URL, AGENT_ID, AGENT_API_KEY`;

/** Everything the command line asks for. */
export interface CliOptions {
  agent: AgentOptions;
  /** Replicas of the agent, one active at a time. */
  replicas: number;
  /** Period of the simulated leader crashes; 0 = never. */
  failoverEveryMs: number;
}

/** If stop() somehow hangs, a second signal or this long after the first forces the exit. */
const FORCED_EXIT_MS = 5_000;

/** Turns argv + env into agent and replica options; throws with a readable message on bad numbers. */
export function cliOptions(argv: string[], env: NodeJS.ProcessEnv): CliOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      id: { type: "string" },
      url: { type: "string" },
      key: { type: "string" },
      dialect: { type: "string" },
      platform: { type: "string" },
      "work-ms": { type: "string" },
      "heartbeat-s": { type: "string" },
      "approval-poll-s": { type: "string" },
      "heartbeat-on-connect": { type: "boolean" },
      "no-reconnect": { type: "boolean" },
      dedupe: { type: "boolean" },
      replicas: { type: "string" },
      "failover-every-s": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  const options: AgentOptions = {
    agentId: values.id ?? env["AGENT_ID"] ?? "",
    url: values.url ?? env["CONTROL_PLANE_URL"] ?? DEFAULT_URL,
    apiKey: values.key ?? env["AGENT_API_KEY"] ?? "",
    heartbeatOnConnect: values["heartbeat-on-connect"] ?? false,
    reconnect: !(values["no-reconnect"] ?? false),
    dedupe: values.dedupe ?? false,
  };
  // The casts are safe: the agent's schema rejects unknown names when it is built.
  if (values.dialect !== undefined) options.dialect = values.dialect as DialectName;
  if (values.platform !== undefined) options.platform = values.platform as Platform;
  if (values["work-ms"] !== undefined) options.workMs = number("--work-ms", values["work-ms"]);
  if (values["heartbeat-s"] !== undefined) options.heartbeatMs = seconds("--heartbeat-s", values["heartbeat-s"]);
  if (values["approval-poll-s"] !== undefined) {
    options.approvalPollMs = seconds("--approval-poll-s", values["approval-poll-s"]);
  }
  const replicas = values.replicas === undefined ? 1 : number("--replicas", values.replicas);
  if (!Number.isInteger(replicas) || replicas < 1) throw new Error(`--replicas: not a positive integer: ${values.replicas}`);
  const failoverEveryMs =
    values["failover-every-s"] === undefined ? 0 : seconds("--failover-every-s", values["failover-every-s"]);
  if (failoverEveryMs < 0) throw new Error(`--failover-every-s: must be >= 0: ${values["failover-every-s"]}`);
  return { agent: options, replicas, failoverEveryMs };
}

function number(flag: string, text: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n)) throw new Error(`${flag}: not a number: ${text}`);
  return n;
}

function seconds(flag: string, text: string): number {
  return Math.round(number(flag, text) * 1000);
}

function main(): void {
  let options: CliOptions | "help";
  let agent: ReplicaSet;
  try {
    options = cliOptions(process.argv.slice(2), process.env);
    if (options === "help") {
      console.log(USAGE);
      return;
    }
    const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
    // One replica is the plain agent: the set only adds fail-over on top.
    agent = new ReplicaSet({ ...options.agent, log }, options.replicas, { failoverEveryMs: options.failoverEveryMs });
  } catch (err) {
    console.error(describeError(err));
    console.error(USAGE);
    process.exitCode = 2;
    return;
  }

  let signalled = false;
  const id = agent.active.id;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      console.error(`[agent ${id}] second ${signal}: exiting now`);
      process.exit(1);
    }
    signalled = true;
    console.log(`[agent ${id}] ${signal}: stopping`);
    setTimeout(() => process.exit(1), FORCED_EXIT_MS).unref();
    // No process.exit on success: a natural exit proves nothing was left running.
    agent.stop().catch((err: unknown) => {
      console.error(`[agent ${id}] stop failed: ${describeError(err)}`);
      process.exitCode = 1;
    });
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  agent.start();
}

function describeError(err: unknown): string {
  if (err instanceof ZodError) {
    return err.issues.map((i) => `invalid option ${i.path.join(".") || "(options)"}: ${i.message}`).join("\n");
  }
  return err instanceof Error ? err.message : String(err);
}

main();
