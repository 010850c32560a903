/**
 * The embedded PGlite's data directory is opened by one process at a time: PGlite takes no lock,
 * and a second process on the same files can leave them unreadable. A second opener is refused
 * with the holder's pid; the directory opens again once released, and a lock left by a process
 * that is gone is taken over.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startEmbeddedPostgres } from "../../src/local/embedded-postgres";
import { eventually } from "./helpers/stack";

/** Gone, or a zombie nobody has reaped yet (in a container, pid 1 may never reap it). */
function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

describe("the embedded database's data directory", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "pglite-lock-"));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it("is refused to a second process while one holds it, and opens again once that one is gone", async () => {
    const dir = path.join(root, "data");
    // The holder is a real second process, as a second `npm run dev` would be.
    const script = `import { startEmbeddedPostgres } from ${JSON.stringify(path.resolve("src/local/embedded-postgres.ts"))};
      await startEmbeddedPostgres(${JSON.stringify(dir)}); console.log("ready"); setInterval(() => {}, 1000);`;
    const scriptFile = path.join(root, "holder.mts");
    fs.writeFileSync(scriptFile, script);
    // Its own process group: tsx runs the script in a child process, and both must go.
    const holder = spawn(path.resolve("node_modules/.bin/tsx"), [scriptFile], { stdio: ["ignore", "pipe", "inherit"], detached: true });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("the holder did not start within 30 s")), 30_000);
        holder.stdout.on("data", (chunk: Buffer) => {
          if (chunk.toString().includes("ready")) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      await expect(startEmbeddedPostgres(dir)).rejects.toThrow(/in use by process \d+/);
    } finally {
      process.kill(-holder.pid!, "SIGKILL");
      const lock = fs.existsSync(`${dir}.lock`) ? fs.readFileSync(`${dir}.lock`, "utf8") : "";
      const lockHolder = Number(lock.split(" ")[0]);
      if (lockHolder > 0) await eventually("the holder's processes gone", async () => (isGone(lockHolder) ? true : undefined), 10_000);
    }
    // Killed, it left its lock behind; its process is gone, so the lock is taken over.
    const again = await startEmbeddedPostgres(dir);
    await again.close();
    expect(fs.existsSync(`${dir}.lock`)).toBe(false);
  }, 60_000);

  it("is refused to a second opener in the same process", async () => {
    const dir = path.join(root, "twice");
    const first = await startEmbeddedPostgres(dir);
    try {
      await expect(startEmbeddedPostgres(dir)).rejects.toThrow(new RegExp(`in use by process ${process.pid}`));
    } finally {
      await first.close();
    }
  }, 60_000);

  it("takes over a lock whose process is gone", async () => {
    const dir = path.join(root, "stale");
    const gone = spawn(process.execPath, ["-e", ""]);
    await new Promise((resolve) => gone.once("exit", resolve));
    fs.writeFileSync(`${dir}.lock`, String(gone.pid));
    const db = await startEmbeddedPostgres(dir);
    expect(fs.readFileSync(`${dir}.lock`, "utf8").split(" ")[0]).toBe(String(process.pid));
    await db.close();
  }, 60_000);
});
