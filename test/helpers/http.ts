/** Calls the Worker through its real fetch entry, with a minted user token when asked. */
import { env, exports } from "cloudflare:workers";
import { sign } from "hono/jwt";

const BASE = "http://dispatch.test";

export async function tokenFor(user: string, opts: { admin?: boolean } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return sign({ sub: user, role: opts.admin ? "admin" : "user", iat: now, exp: now + 3600 }, env.JWT_SECRET, "HS256");
}

export type CallOptions = { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> };

export async function call(method: string, path: string, opts: CallOptions = {}): Promise<Response> {
  const headers = new Headers(opts.headers);
  // Agent endpoints are rate limited per client IP: each call gets its own address unless a test sets one.
  if (!headers.has("CF-Connecting-IP")) headers.set("CF-Connecting-IP", randomIp());
  if (opts.token) headers.set("Authorization", `Bearer ${opts.token}`);
  let body: string | undefined = opts.rawBody;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers.set("Content-Type", "application/json");
  } else if (body !== undefined && !headers.has("Content-Type")) {
    headers.set("Content-Type", "application/json");
  }
  return exports.default.fetch(new Request(BASE + path, { method, headers, body: body ?? null }));
}

/** Calls and parses JSON; fails with the body text if the status is not `expected`. */
export async function callJson<T = Record<string, unknown>>(
  method: string,
  path: string,
  expected: number,
  opts: CallOptions = {},
): Promise<T> {
  const res = await call(method, path, opts);
  const text = await res.text();
  if (res.status !== expected) throw new Error(`${method} ${path}: expected ${expected}, got ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

/** A unique client address, so tests never share a rate-limit budget by accident. */
export function randomIp(): string {
  return `2001:db8::${crypto.randomUUID().slice(0, 4)}:${crypto.randomUUID().slice(0, 4)}`;
}
