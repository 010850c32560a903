/**
 * `.dev.vars`: the local secrets wrangler dev reads. `npm run dev` creates the file with random
 * values the first time and keeps them afterwards, so tokens stay valid across restarts.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

export const PROJECT_ROOT = path.resolve(import.meta.dirname, "../..");
export const DEV_VARS_FILE = path.join(PROJECT_ROOT, ".dev.vars");

export function readDevVars(): Record<string, string> {
  if (!fs.existsSync(DEV_VARS_FILE)) return {};
  const vars: Record<string, string> = {};
  for (const line of fs.readFileSync(DEV_VARS_FILE, "utf8").split("\n")) {
    const m = /^\s*([A-Z0-9_]+)\s*=\s*"?(.*?)"?\s*$/.exec(line);
    if (m?.[1]) vars[m[1]] = m[2] ?? "";
  }
  return vars;
}

/** Makes sure JWT_SECRET and AGENT_BOOTSTRAP_KEY exist in .dev.vars; returns all vars. */
export function ensureDevVars(): Record<string, string> {
  const vars = readDevVars();
  let changed = false;
  if (!vars["JWT_SECRET"]) {
    vars["JWT_SECRET"] = randomBytes(32).toString("hex");
    changed = true;
  }
  if (!vars["AGENT_BOOTSTRAP_KEY"]) {
    vars["AGENT_BOOTSTRAP_KEY"] = randomBytes(32).toString("hex");
    changed = true;
  }
  if (changed) {
    const body = Object.entries(vars)
      .map(([k, v]) => `${k}="${v}"`)
      .join("\n");
    fs.writeFileSync(DEV_VARS_FILE, `# Local secrets for wrangler dev; written by npm run dev. Not committed.\n${body}\n`, { mode: 0o600 });
  }
  return vars;
}

/**
 * Writes the database this run of `npm run dev` uses to `.data/dev-database.env`, for wrangler's
 * `--env-file` after `.dev.vars`: passed there rather than as a `--var`, it also satisfies
 * wrangler's check of the secrets wrangler.toml requires. Returns the file's path.
 */
export function writeDatabaseEnv(url: string): string {
  const file = path.join(PROJECT_ROOT, ".data", "dev-database.env");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `DATABASE_URL=${JSON.stringify(url)}\n`, { mode: 0o600 });
  return file;
}

/** The JWT secret for minting tokens: JWT_SECRET from the environment, else from .dev.vars. */
export function jwtSecret(): string {
  const secret = process.env["JWT_SECRET"] || readDevVars()["JWT_SECRET"];
  if (!secret) throw new Error("JWT_SECRET is not set and .dev.vars has none: run `npm run dev` once, or export JWT_SECRET");
  return secret;
}
