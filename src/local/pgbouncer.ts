/**
 * PgBouncer in transaction mode between the WebSocket proxy and Postgres: the local stand-in for
 * Neon's pooled endpoint. Without it every Worker request and Durable Object event opens its own
 * Postgres backend, and a few hundred agents reconnecting at once exhaust max_connections
 * (platform notes §4.3). Optional: used when the Debian package `pgbouncer` is installed.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const CANDIDATES = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer", "/usr/local/bin/pgbouncer"];
const READY_TIMEOUT_MS = 10_000;
/** Clients' password (PgBouncer itself logs in to Postgres as configured upstream). */
const CLIENT_PASSWORD = "local";

/**
 * `url` carries a password, which PgBouncer asks for in cleartext as Neon's endpoints do, so the
 * Worker may pipeline its connection start-up there too (DB_PIPELINE_CONNECT=true).
 */
export type PgBouncer = { url: string; close(): Promise<void> };

/** The pgbouncer binary, or undefined when it is not installed (or POOLER=none). */
export function findPgBouncer(): string | undefined {
  if (process.env["POOLER"] === "none") return undefined;
  return CANDIDATES.find((p) => fs.existsSync(p));
}

/**
 * Starts PgBouncer in front of the server `serverUrl` points at and returns `serverUrl` with
 * host and port replaced by PgBouncer's. Any database name on that server is reachable.
 */
export async function startPgBouncer(binary: string, serverUrl: string): Promise<PgBouncer> {
  const upstream = new URL(serverUrl);
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "edge-dispatch-pgbouncer-"));
  fs.chmodSync(dir, 0o777); // it drops root privileges and must still write its log here
  const user = decodeURIComponent(upstream.username || "postgres");
  const ini = `[databases]
* = host=${upstream.hostname} port=${upstream.port || 5432} user=${user}${upstream.password ? ` password=${decodeURIComponent(upstream.password)}` : ""}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = plain
auth_file = ${dir}/userlist.txt
pool_mode = transaction
max_client_conn = 20000
default_pool_size = 40
ignore_startup_parameters = extra_float_digits,options
logfile = ${dir}/pgbouncer.log
pidfile = ${dir}/pgbouncer.pid
`;
  fs.writeFileSync(path.join(dir, "pgbouncer.ini"), ini, { mode: 0o644 });
  fs.writeFileSync(path.join(dir, "userlist.txt"), `"${user}" "${CLIENT_PASSWORD}"\n`, { mode: 0o644 });
  // PgBouncer refuses to run as root; -u drops to the postgres account when we are root.
  const args = process.getuid?.() === 0 ? ["-u", "postgres", path.join(dir, "pgbouncer.ini")] : [path.join(dir, "pgbouncer.ini")];
  const child = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  await waitForPort(port, () => child.exitCode !== null, () => `${stderr}\n${readLog(dir)}`);
  const url = new URL(serverUrl);
  url.hostname = "127.0.0.1";
  url.port = String(port);
  url.password = CLIENT_PASSWORD;
  return {
    url: url.toString(),
    async close() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGINT");
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function readLog(dir: string): string {
  try {
    return fs.readFileSync(path.join(dir, "pgbouncer.log"), "utf8").slice(-2000);
  } catch {
    return "";
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForPort(port: number, exited: () => boolean, output: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited()) throw new Error(`pgbouncer exited: ${output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: "127.0.0.1", port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`pgbouncer did not listen on ${port} within ${READY_TIMEOUT_MS} ms: ${output()}`);
}
