/**
 * CLI for the reference agent:
 *
 *   npm run agent -- --id <agent-id> [--url ws://127.0.0.1:8787] [--key <64-hex>]
 *     [--platform kubernetes] [--work-ms 500] [--heartbeat-s 30] [--approval-poll-s 30]
 *     [--heartbeat-on-connect]
 *
 * `--url`, `--id` and `--key` fall back to CONTROL_PLANE_URL, AGENT_ID and AGENT_API_KEY.
 * Runs until SIGINT/SIGTERM, then closes the socket cleanly and exits.
 */
import { parseArgs } from "node:util";
import { ZodError } from "zod";
import { ReferenceAgent } from "./agent";
import type { Platform } from "./dialect";
import type { AgentOptions } from "./options";
import { DEFAULT_URL } from "./options";

const USAGE = `usage: npm run agent -- --id <agent-id> [--url ${DEFAULT_URL}] [--key <64-hex>]
  [--platform kubernetes] [--work-ms 500] [--heartbeat-s 30] [--approval-poll-s 30] [--heartbeat-on-connect]
env fallbacks: CONTROL_PLANE_URL, AGENT_ID, AGENT_API_KEY`;

/** If stop() somehow hangs, a second signal or this long after the first forces the exit. */
const FORCED_EXIT_MS = 5_000;

/** Turns argv + env into agent options; throws with a readable message on bad numbers. */
export function cliOptions(argv: string[], env: NodeJS.ProcessEnv): AgentOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      id: { type: "string" },
      url: { type: "string" },
      key: { type: "string" },
      platform: { type: "string" },
      "work-ms": { type: "string" },
      "heartbeat-s": { type: "string" },
      "approval-poll-s": { type: "string" },
      "heartbeat-on-connect": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  const options: AgentOptions = {
    agentId: values.id ?? env["AGENT_ID"] ?? "",
    url: values.url ?? env["CONTROL_PLANE_URL"] ?? DEFAULT_URL,
    apiKey: values.key ?? env["AGENT_API_KEY"] ?? "",
    heartbeatOnConnect: values["heartbeat-on-connect"] ?? false,
  };
  // The cast is safe: the agent's schema rejects unknown platforms when it is built.
  if (values.platform !== undefined) options.platform = values.platform as Platform;
  if (values["work-ms"] !== undefined) options.workMs = number("--work-ms", values["work-ms"]);
  if (values["heartbeat-s"] !== undefined) options.heartbeatMs = seconds("--heartbeat-s", values["heartbeat-s"]);
  if (values["approval-poll-s"] !== undefined) {
    options.approvalPollMs = seconds("--approval-poll-s", values["approval-poll-s"]);
  }
  return options;
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
  let options: AgentOptions | "help";
  let agent: ReferenceAgent;
  try {
    options = cliOptions(process.argv.slice(2), process.env);
    if (options === "help") {
      console.log(USAGE);
      return;
    }
    agent = new ReferenceAgent({ ...options, log: (line) => console.log(`${new Date().toISOString()} ${line}`) });
  } catch (err) {
    console.error(describeError(err));
    console.error(USAGE);
    process.exitCode = 2;
    return;
  }

  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      console.error(`[agent ${agent.id}] second ${signal}: exiting now`);
      process.exit(1);
    }
    signalled = true;
    console.log(`[agent ${agent.id}] ${signal}: stopping`);
    setTimeout(() => process.exit(1), FORCED_EXIT_MS).unref();
    // No process.exit on success: a natural exit proves nothing was left running.
    agent.stop().catch((err: unknown) => {
      console.error(`[agent ${agent.id}] stop failed: ${describeError(err)}`);
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
