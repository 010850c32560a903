/**
 * `npm run dev`: everything locally. Postgres (DATABASE_URL, else embedded PGlite kept in
 * .data/pglite), the WebSocket proxy the Neon driver needs in front of it, migrations, demo
 * data, then `wrangler dev` with the cron sweep triggered every minute. Prints what to do next.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { DEV_VARS_FILE, ensureDevVars, jwtSecret, PROJECT_ROOT, writeDatabaseEnv } from "./dev-vars";
import { EMBEDDED_DATA_DIR } from "./db-migrate";
import { findPostgres } from "./local-postgres";
import { migrateDatabase } from "./migrate";
import { DEMO_AGENT_ID, seedDemo } from "./seed";
import { mintToken } from "./token";
import { startWsProxy } from "./ws-proxy";

const PORT = Number(process.env["PORT"] ?? 8787);
const SWEEP_EVERY_MS = 60_000;
const READY_TIMEOUT_MS = 60_000;

const vars = ensureDevVars();
const db = await findPostgres({ preferMachine: false, embeddedDataDir: EMBEDDED_DATA_DIR, embeddedPort: 54329 });
const dbHost = new URL(db.url).hostname;
const isLocalDb = ["127.0.0.1", "localhost", "::1"].includes(dbHost);
const proxy = isLocalDb ? await startWsProxy(Number(process.env["DB_WS_PROXY_PORT"] ?? 0)) : undefined;
await migrateDatabase(db.url);
// Demo rows (an approved agent whose key sits in .data) only go into a database on this machine,
// never into one DATABASE_URL names elsewhere (Neon's, say).
const demo = isLocalDb ? await seedDemo(db.url) : undefined;

const wrangler = spawn(
  "wrangler",
  [
    "dev",
    "--ip", "127.0.0.1",
    "--port", String(PORT),
    "--persist-to", path.join(PROJECT_ROOT, ".data/wrangler"),
    "--show-interactive-dev-session=false",
    "--test-scheduled",
    // Files, not a --var, so wrangler's check of the required secrets sees DATABASE_URL too.
    "--env-file", DEV_VARS_FILE,
    "--env-file", writeDatabaseEnv(db.url),
    "--var", `DB_WS_PROXY:${proxy ? `127.0.0.1:${proxy.port}` : ""}`,
  ],
  {
    cwd: PROJECT_ROOT,
    stdio: ["ignore", "inherit", "inherit"],
    // No network here but the package registries: skip wrangler's Request.cf download and telemetry.
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
  },
);

let stopping = false;
/** Set once the Worker is up; a shutdown before then (Ctrl-C, a failed start) has none to clear. */
let sweepTimer: ReturnType<typeof setInterval> | undefined;
async function shutdown(code: number): Promise<never> {
  stopping = true;
  wrangler.kill("SIGTERM");
  if (sweepTimer) clearInterval(sweepTimer);
  await proxy?.close();
  await db.close();
  process.exit(code);
}
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));
wrangler.on("exit", (code) => {
  if (!stopping) {
    console.error(`wrangler dev exited (${code})`);
    void shutdown(code ?? 1);
  }
});

const base = `http://127.0.0.1:${PORT}`;
await waitForHealthy(`${base}/healthz`);

// Miniflare does not fire crons by itself: trigger the sweep the way the platform would.
sweepTimer = setInterval(() => {
  fetch(`${base}/__scheduled?cron=${encodeURIComponent("* * * * *")}`).catch(() => {});
}, SWEEP_EVERY_MS);

// wrangler gives the shell's environment precedence over .dev.vars: sign and print what it uses.
const secret = jwtSecret();
const adminToken = await mintToken("admin", true, 24, secret);
const userToken = await mintToken("alice", false, 24, secret);
const bootstrapKey = process.env["AGENT_BOOTSTRAP_KEY"] || vars["AGENT_BOOTSTRAP_KEY"];
const demoAgent = demo
  ? `npm run agent -- --id ${DEMO_AGENT_ID} --url ws://127.0.0.1:${PORT} --key ${demo.agentKey}`
  : `(no demo agent: ${dbHost} is not on this machine; register one with the bootstrap key)`;
console.log(`
──────────────────────────────────────────────────────────────────────────────
 edge-dispatch is running at ${base}
 database: ${db.kind === "embedded" ? "embedded PGlite (.data/pglite)" : dbHost}

 Connect the demo agent (another terminal):
   ${demoAgent}

 Create a session as alice:
   curl -s -X POST ${base}/api/v1/sessions -H "Authorization: Bearer ${userToken}" \\
     -H 'Content-Type: application/json' -d '{"user":"alice","template":"firefox-browser"}'

 Admin token (24 h):   ${adminToken}
 Bootstrap agent key:  ${bootstrapKey}
 OpenAPI document:     ${base}/openapi.json
──────────────────────────────────────────────────────────────────────────────
`);

async function waitForHealthy(url: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  console.error(`the Worker did not become healthy within ${READY_TIMEOUT_MS / 1000} s`);
  await shutdown(1);
}
