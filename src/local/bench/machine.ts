/** What ran the bench: results from a noisy 2-core box mean little without it. */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { PROJECT_ROOT } from "../dev-vars";
import { findPgBouncer } from "../pgbouncer";

const run = promisify(execFile);

export type MachineInfo = {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  loadAverageAtStart: number[];
  node: string;
  workerd: string;
  miniflare: string;
  wrangler: string;
  neonServerless: string;
  graphileWorker: string;
  postgres: string;
  pgbouncer: string | null;
};

function packageVersion(name: string): string {
  try {
    const json = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "node_modules", name, "package.json"), "utf8")) as { version?: string };
    return json.version ?? "unknown";
  } catch {
    return "not installed";
  }
}

export async function machineInfo(postgresUrl: string): Promise<MachineInfo> {
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  const { rows } = await client.query("select version() as v");
  await client.end();
  let pgbouncer: string | null = null;
  const binary = findPgBouncer();
  if (binary) {
    const { stdout } = await run(binary, ["--version"]).catch(() => ({ stdout: "unknown" }));
    pgbouncer = stdout.split("\n")[0]?.trim() ?? "unknown";
  }
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
    node: process.version,
    workerd: packageVersion("workerd"),
    miniflare: packageVersion("miniflare"),
    wrangler: packageVersion("wrangler"),
    neonServerless: packageVersion("@neondatabase/serverless"),
    graphileWorker: packageVersion("graphile-worker"),
    postgres: String((rows[0] as { v: string }).v),
    pgbouncer,
  };
}
