/**
 * Runs the Worker in workerd through Miniflare's own API and port: the same bundle `wrangler
 * deploy` would upload, the options wrangler.toml declares. Used by Node-side tests (restarts,
 * reconnect storms) and the bench, where `wrangler dev`'s proxy layer gets in the way.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import type { V4MiniflareOptions } from "miniflare";
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from "wrangler";
import { PROJECT_ROOT } from "./dev-vars";

const run = promisify(execFile);
// Per process: parallel test files must not overwrite each other's bundle mid-read.
const BUILD_DIR = path.join(PROJECT_ROOT, ".data/build", String(process.pid));

export type WorkerSecrets = {
  DATABASE_URL: string;
  DB_WS_PROXY: string;
  JWT_SECRET: string;
  AGENT_BOOTSTRAP_KEY: string;
  [name: string]: string;
};

export type LocalWorker = {
  /** http://127.0.0.1:<port> */
  url: string;
  mf: Miniflare;
  /** Runs the cron handler once, as the platform's trigger would. */
  sweep(): Promise<void>;
  stop(): Promise<void>;
};

let bundled: Promise<string> | undefined;

/** Bundles src/index.ts with wrangler (once per process) and returns the script path. */
export function bundleWorker(): Promise<string> {
  bundled ??= (async () => {
    const wrangler = path.join(PROJECT_ROOT, "node_modules/.bin/wrangler");
    await run(wrangler, ["deploy", "--dry-run", "--outdir", BUILD_DIR], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    });
    return path.join(BUILD_DIR, "index.js");
  })();
  return bundled;
}

/**
 * Starts the Worker. `persistDir` keeps Durable Object storage across stop/start, as a real
 * deployment keeps it across restarts. Without it the storage is still on disk, in a temporary
 * directory Miniflare removes on exit: SQLite-backed objects have no in-memory mode (Miniflare's
 * `unsafeEphemeralDurableObjects` refuses their `storage.kv`).
 */
export async function startLocalWorker(secrets: WorkerSecrets, opts: { persistDir?: string; port?: number } = {}): Promise<LocalWorker> {
  const scriptPath = await bundleWorker();
  // Without `[secrets]`: they are passed in below, and wrangler would warn on every start that
  // no .dev.vars or .env holds them.
  const config = unstable_readConfig({ config: path.join(PROJECT_ROOT, "wrangler.toml") });
  const { workerOptions } = unstable_getMiniflareWorkerOptions({ ...config, secrets: undefined });
  if (opts.persistDir) fs.mkdirSync(opts.persistDir, { recursive: true });
  // The bundle is one self-contained module: module rules are for unbundled sources.
  const { modulesRules: _rules, ...declared } = workerOptions as typeof workerOptions & { modulesRules?: unknown };
  const options = {
    ...declared,
    name: "edge-dispatch",
    modules: true,
    scriptPath,
    bindings: { ...(declared.bindings ?? {}), ...secrets },
    host: "127.0.0.1",
    port: opts.port ?? 0,
    durableObjectsPersist: opts.persistDir ?? false,
    cf: false,
    // Miniflare routes every outbound fetch through an interceptor worker that, by default,
    // copies the request's headers to drop CF-Connecting-IP. The Worker's outbound requests
    // (SQL over HTTP) never carry it, and the platform has no such hop: skip the copy.
    stripCfConnectingIp: false,
    ...(process.env["WORKERD_INSPECTOR_PORT"] ? { inspectorPort: Number(process.env["WORKERD_INSPECTOR_PORT"]) } : {}),
  } as V4MiniflareOptions;
  const mf = new Miniflare(convertV4MiniflareOptions(options));
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return {
    url,
    mf,
    async sweep() {
      // Miniflare's Fetcher type lacks scheduled(), which the runtime object has.
      type Scheduler = { scheduled(options: { cron: string }): Promise<{ outcome: string }> };
      const worker = (await mf.getWorker()) as unknown as Scheduler;
      const result = await worker.scheduled({ cron: "* * * * *" });
      if (result.outcome !== "ok") throw new Error(`scheduled handler: ${result.outcome}`);
    },
    stop: () => mf.dispose(),
  };
}
