/**
 * Seeded fuzzing of the HTTP API and the agent WebSocket protocol: random JSON, mutated valid
 * bodies and frames, and raw garbage must never get a 5xx, crash an agent's Durable Object, or
 * change another agent's rows.
 *
 * Every input comes from `rngFor(SEED, caseIndex)` (test/helpers/prng.ts), so a failure prints
 * the seed, the case index and the exact request or frame, and replays by running this file
 * again. Environment variables do not reach tests inside workerd: to explore other inputs,
 * change SEED (and keep the failing seed in a regression test once fixed).
 */
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import type { TestAgent } from "../helpers/db";
import { getCommand, makeAgent, makeTemplate, query, waitFor } from "../helpers/db";
import { call, tokenFor } from "../helpers/http";
import { garbageText, mutateJson, randomJson, randomString, rngFor, WEIRD_STRINGS } from "../helpers/prng";
import type { Rng } from "../helpers/prng";
import { connectAgent, settle } from "../helpers/ws";

const SEED = 1337;
const HTTP_CASES = 1500;
const FRAME_BATCHES = 20;
const FRAMES_PER_BATCH = 100;

type HttpCase = { method: string; path: string; headers: Record<string, string>; body?: string };
type Fixture = {
  user: string; admin: string; other: string; badTokens: string[];
  reg: TestAgent; hb: TestAgent; cmd: TestAgent; sessionIds: string[];
};

const HTTP_GEN = { maxLong: 100_000 };
const FRAME_GEN = { maxLong: 20_000 };
const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"];
const CONTENT_TYPES = ["text/plain", "", "application/json; charset=utf-16", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "application/vnd.api+json", "json"];

/** A header value the Headers API accepts (printable ASCII), but otherwise arbitrary. */
function headerGarbage(rng: Rng): string {
  let s = "";
  for (let i = rng.int(1, 80); i > 0; i--) s += String.fromCharCode(rng.int(0x21, 0x7e));
  return s;
}

/** encodeURIComponent, with lone surrogates (which it refuses) made U+FFFD first. */
const encode = (s: string) => encodeURIComponent(s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd"));

/** A path segment: usually the valid one, otherwise long, unicode, `%00`, `../`, raw or encoded. */
function pathParam(rng: Rng, valid: string): string {
  if (rng.chance(0.5)) return encode(valid);
  const raw = rng.pick([
    () => randomString(rng, { maxLong: 5000 }), () => rng.pick(WEIRD_STRINGS), () => "../".repeat(rng.int(1, 6)) + valid,
    () => valid + rng.pick(["%00", "%", "%zz", "%2e%2e%2f", "/..", "%2F"]), () => "a".repeat(rng.int(250, 260)),
  ])();
  return rng.chance(0.6) ? encode(raw) : raw.replace(/[?#]/g, "");
}

function randomQuery(rng: Rng): string {
  const parts: string[] = [];
  for (let n = rng.int(0, 4); n > 0; n--) {
    const key = rng.pick(["agent_id", "status", "limit", "limit", randomString(rng, { maxLong: 300 })]);
    const value = rng.pick([() => rng.pick(["pending", "sent", "ack", "completed", "failed"]), () => String(rng.int(-5, 2000)), () => rng.pick(["1e3", "0x10", "1.5", "", "NaN", " 7 "]), () => randomString(rng, { maxLong: 3000 })])();
    parts.push(rng.chance(0.7) ? `${encode(key)}=${encode(value)}` : `${key}=${value}`.replace(/#/g, ""));
  }
  return parts.join("&");
}

/** HTTP case `index`: a target, then its body, method and headers, all drawn from one generator. */
function httpCase(index: number, f: Fixture): HttpCase {
  const rng = rngFor(SEED, index);
  let method = "POST";
  let path: string;
  let base: unknown;
  let auth: "user" | "admin" | { key: string };
  switch (rng.int(0, 9)) {
    case 0: case 1:
      path = "/api/v1/sessions";
      base = { user: "fuzzer", template: "fuzz-desktop", ...(rng.chance(0.3) ? { resources: { memory: "1Gi", cpu: "500m" }, tags: ["t"], persistentHome: false, idleTimeout: "1h" } : {}) };
      auth = "user";
      break;
    case 2:
      path = "/api/v1/agents/register";
      base = { agentId: f.reg.agentId, platform: "kubernetes", region: "default", capacity: { maxSessions: 100, cpu: "64 cores", memory: "256Gi" }, metadata: { namespace: "streamspace" } };
      auth = { key: f.reg.apiKey };
      break;
    case 3:
      path = `/api/v1/agents/${pathParam(rng, f.hb.agentId)}/heartbeat`;
      base = { status: rng.pick(["online", "draining"]), activeSessions: 0, capacity: { maxSessions: 10, cpu: "4", memory: "8Gi" } };
      auth = { key: f.hb.apiKey };
      break;
    case 4:
      path = `/api/v1/admin/agents/${pathParam(rng, f.cmd.agentId)}/command`;
      base = { action: rng.pick(["stop_session", "start_session", "hibernate_session", "wake_session"]), sessionId: "s", payload: { sessionId: "s" } };
      auth = "admin";
      break;
    case 5:
      method = "PUT";
      path = `/api/v1/admin/templates/${pathParam(rng, rng.pick(["fuzz-desktop", "fuzz-other"]))}`;
      base = { manifest: { spec: { baseImage: rng.pick(["x", "lscr.io/linuxserver/firefox:latest"]), ports: [{ name: "vnc", containerPort: 5900 }] } } };
      auth = "admin";
      break;
    case 6:
      method = "GET";
      path = `/api/v1/admin/commands?${randomQuery(rng)}`;
      auth = "admin";
      break;
    case 7: case 8:
      method = "GET";
      path = `/api/v1/sessions/${pathParam(rng, f.sessionIds.length > 0 ? rng.pick(f.sessionIds) : "none")}`;
      auth = "user";
      break;
    default:
      method = "GET";
      path = `/api/v1/admin/commands/${pathParam(rng, "cmd-00000000")}`;
      auth = "admin";
  }
  if (rng.chance(0.1)) method = rng.pick(METHODS);

  const headers: Record<string, string> = {};
  if (typeof auth === "object") {
    const key = rng.chance(0.8) ? auth.key : rng.pick([auth.key.toUpperCase(), f.cmd.apiKey, env.AGENT_BOOTSTRAP_KEY, "z".repeat(64), auth.key.slice(1), headerGarbage(rng), ""]);
    if (key !== "" || rng.chance(0.5)) headers["X-Agent-API-Key"] = key;
  } else {
    const token = auth === "admin" ? f.admin : rng.chance(0.8) ? f.user : f.admin;
    if (rng.chance(0.85)) headers["Authorization"] = `Bearer ${token}`;
    else if (rng.chance(0.8)) headers["Authorization"] = rng.pick([`Bearer ${rng.pick(f.badTokens)}`, `Bearer ${f.other}`, "Bearer", `Basic ${token}`, `bearer  ${token}`, headerGarbage(rng)]);
  }
  if (rng.chance(0.1)) headers["Content-Type"] = rng.pick([...CONTENT_TYPES, headerGarbage(rng)]);
  if (rng.chance(0.05)) headers["X-Request-Id"] = headerGarbage(rng);
  if (rng.chance(0.05)) headers["Idempotency-Key"] = rng.pick(["fz-key-1", "fz-key-2", "", "k".repeat(300), headerGarbage(rng)]);
  if (method === "GET" || method === "HEAD") return { method, path, headers };

  const roll = rng.next();
  let body = base === undefined || roll < 0.15 ? JSON.stringify(randomJson(rng, HTTP_GEN)) ?? "" : roll < 0.3 ? garbageText(rng) : mutateJson(rng, base, HTTP_GEN);
  if (new TextEncoder().encode(body).byteLength >= 1024 * 1024) body = body.slice(0, 300_000); // bodies stay under 1 MiB
  return { method, path, headers, body };
}

function describeRequest(c: HttpCase): string {
  const body = c.body === undefined ? "(none)" : c.body.length <= 8192 ? JSON.stringify(c.body) : `${JSON.stringify(c.body.slice(0, 2048))}… (${c.body.length} chars)`;
  return `${c.method} ${JSON.stringify(c.path)}\nheaders: ${JSON.stringify(c.headers)}\nbody: ${body}`;
}

/** Null when the answer is acceptable, else what was wrong with it. */
async function verdict(c: HttpCase, res: Response): Promise<string | null> {
  const text = await res.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  const noAgent = res.status === 503 && c.method === "POST" && c.path === "/api/v1/sessions" && json?.["error"] === "No agents available";
  if (res.status >= 500 && !noAgent) return `answered ${res.status}: ${text.slice(0, 1000)}`;
  if (res.status < 300 || c.method === "HEAD") return null;
  const missing = ["error", "code", "message", "requestId"].filter((k) => typeof json?.[k] !== "string");
  return missing.length > 0 ? `answered ${res.status} without string ${missing.join(", ")}: ${text.slice(0, 1000)}` : null;
}

describe(`fuzz seed ${SEED}`, () => {
  it("answers thousands of random and mutated HTTP requests without a 5xx, every error as JSON", { timeout: 120_000 }, async () => {
    await makeTemplate("fuzz-desktop", { spec: { baseImage: "lscr.io/linuxserver/firefox:latest" } });
    // A connected, selectable agent, so that valid session creates succeed with 202.
    const selectable = await makeAgent();
    const socket = await connectAgent(selectable.agentId, selectable.apiKey);
    const now = Math.floor(Date.now() / 1000);
    const f: Fixture = {
      user: await tokenFor("fuzzer"),
      admin: await tokenFor("root", { admin: true }),
      other: await tokenFor("someone-else"),
      badTokens: [
        await sign({ sub: "fuzzer", iat: now - 7200, exp: now - 3600 }, env.JWT_SECRET, "HS256"),
        await sign({ sub: "fuzzer", role: "admin", exp: now + 3600 }, "not-the-secret-at-all", "HS256"),
        await sign({ role: "admin", exp: now + 3600 }, env.JWT_SECRET, "HS256"),
        await sign({ sub: 42, user_id: ["x"], exp: now + 3600 }, env.JWT_SECRET, "HS256"),
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJmdXp6ZXIiLCJyb2xlIjoiYWRtaW4ifQ.", "a.b.c", "....",
      ],
      reg: await makeAgent(), hb: await makeAgent(), cmd: await makeAgent(), sessionIds: [],
    };
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    for (let i = 0; i < HTTP_CASES; i++) {
      if (i % 200 === 0) socket.send({ type: "heartbeat", payload: { status: "online", activeSessions: 0 } }); // stay selectable
      const c = httpCase(i, f);
      let problem: string | null;
      try {
        const res = await call(c.method, c.path, { headers: c.headers, ...(c.body === undefined ? {} : { rawBody: c.body }) });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 202 && c.path === "/api/v1/sessions") f.sessionIds.push(((await res.clone().json()) as { name: string }).name);
        problem = await verdict(c, res);
      } catch (err) {
        problem = `threw ${String(err)}`;
      }
      if (problem) failures.push(`fuzz seed ${SEED}, HTTP case #${i}: ${problem}\n${describeRequest(c)}`);
    }
    console.log(`fuzz seed ${SEED}: ${HTTP_CASES} HTTP cases, statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    expect(socket.ws.readyState, "the selectable agent's socket survived the deliveries").toBe(WebSocket.OPEN);
    socket.close();
    expect(failures.length, `${failures.length} bad answers; the first ones:\n\n${failures.slice(0, 5).join("\n\n")}`).toBe(0);
    expect(statuses.get(202) ?? 0, "some valid session creates went through").toBeGreaterThan(0);
  });

  it("survives thousands of random and mutated agent frames without touching other agents' data", { timeout: 120_000 }, async () => {
    const victim = await makeAgent();
    const canary = await makeAgent();
    const socket = await connectAgent(victim.agentId, victim.apiKey);
    // Rows for the frames to aim at: each agent gets a session and commands in every status.
    const ids = { victim: [] as string[], canary: [] as string[] };
    for (const [who, agent] of [["victim", victim], ["canary", canary]] as const) {
      const session = `fz-${who}-session`;
      await query(sql`insert into sessions (id, user_id, template_name, state, agent_id) values (${session}, 'u', 'fuzz-desktop', 'running', ${agent.agentId})`);
      const rows = [["pending", "stop_session"], ["sent", "start_session"], ["ack", "hibernate_session"], ["sent", "wake_session"], ["completed", "stop_session"], ["failed", "start_session"], ["completed", "wake_session"], ["failed", "hibernate_session"]];
      for (const [i, [status, action]] of rows.entries()) {
        if (who === "victim" && status === "pending") continue; // would be delivered to the socket
        const id = `fz-${who}-cmd-${i}`;
        ids[who].push(id);
        await query(sql`insert into agent_commands (command_id, agent_id, session_id, action, status, error_message, result)
          values (${id}, ${agent.agentId}, ${session}, ${action}, ${status}, ${status === "failed" ? "boom" : null}, ${status === "completed" ? sql`'{"state":"running"}'::jsonb` : null})`);
      }
    }
    const rowsOf = async (table: "agents" | "agent_commands" | "sessions", agentId: string, extra = sql``) =>
      (await query<{ j: string }>(sql`select row_to_json(t)::text as j from ${sql.raw(table)} t where agent_id = ${agentId} ${extra} order by 1`)).map((r) => r.j);
    const canaryRows = async () => ({ agents: await rowsOf("agents", canary.agentId), commands: await rowsOf("agent_commands", canary.agentId), sessions: await rowsOf("sessions", canary.agentId) });
    const finished = sql`and status in ('completed', 'failed')`;
    const canaryBefore = await canaryRows();
    const victimFinishedBefore = await rowsOf("agent_commands", victim.agentId, finished);

    const sessionPool = ["fz-victim-session", "fz-canary-session", "nope"];
    const frameCase = (index: number): string | Uint8Array => {
      const rng = rngFor(SEED ^ 0x5eed, index);
      const commandId = rng.chance(0.45) ? rng.pick(ids.victim) : rng.chance(0.8) ? rng.pick(ids.canary) : randomString(rng, { maxLong: 300 });
      const sessionId = rng.chance(0.8) ? rng.pick(sessionPool) : randomString(rng, { maxLong: 300 });
      const timestamp = rng.pick([new Date(0).toISOString(), null, undefined, 1732259690, "yesterday"]);
      const base = rng.pick([
        { type: "heartbeat", timestamp, payload: { status: "online", activeSessions: 1, capacity: { maxSessions: 10, cpu: "4", memory: "8Gi" } } },
        { type: "ack", timestamp, payload: { commandId } },
        { type: "complete", timestamp, payload: { commandId, result: { sessionId, state: rng.pick(["running", "hibernated", "terminated", "weird"]) } } },
        { type: "failed", timestamp, payload: { commandId, error: "boom" } },
        { type: "status", timestamp, payload: { sessionId, state: "running", vncReady: true, vncPort: 5900, platformMetadata: { podName: "pod-1" } } },
        { type: "command_error", timestamp, commandId, error: "docker says no" },
        { type: "command_response", timestamp, success: rng.chance(0.5), sessionId, status: "running", container: { id: "c1" } },
      ]);
      const roll = rng.next();
      if (roll < 0.2) return JSON.stringify(base);
      if (roll < 0.3) return JSON.stringify(randomJson(rng, FRAME_GEN)) ?? "";
      if (roll < 0.35) return Uint8Array.from({ length: rng.int(0, 300) }, () => rng.int(0, 255));
      if (roll < 0.45) return garbageText(rng);
      return mutateJson(rng, base, FRAME_GEN).slice(0, 400_000); // oversize frames close the socket (1009) by design
    };

    const victimDo = env.AGENT.getByName(victim.agentId);
    const show = (f: string | Uint8Array) =>
      typeof f === "string" ? `${JSON.stringify(f.slice(0, 300))}${f.length > 300 ? `… (${f.length} chars)` : ""}` : `bytes [${f.join(",")}]`;
    for (let b = 0; b < FRAME_BATCHES; b++) {
      const first = b * FRAMES_PER_BATCH;
      const frames = Array.from({ length: FRAMES_PER_BATCH }, (_, k) => frameCase(first + k));
      for (const frame of frames) socket.ws.send(frame);
      // A sentinel ack after the batch: frames apply in arrival order, so once it lands the batch did.
      const sentinel = `fz-sentinel-${b}`;
      await query(sql`insert into agent_commands (command_id, agent_id, action, status) values (${sentinel}, ${victim.agentId}, 'stop_session', 'sent')`);
      socket.send({ type: "heartbeat", payload: { status: "online", activeSessions: 0 } });
      socket.send({ type: "ack", payload: { commandId: sentinel } });
      try {
        await waitFor("the sentinel ack to apply", async () => ((await getCommand(sentinel))?.status === "ack" ? true : undefined), 20_000);
        if (socket.ws.readyState !== WebSocket.OPEN || !(await victimDo.isConnected())) throw new Error("the victim's socket is closed");
      } catch (err) {
        const listing = frames.map((f, k) => `#${first + k}: ${show(f)}`).join("\n");
        throw new Error(`fuzz seed ${SEED}, frame cases #${first}–#${first + FRAMES_PER_BATCH - 1}: ${String(err)}\n${listing}`);
      }
    }

    // The DO still works: a fresh command arrives on the same socket and completes.
    await query(sql`insert into agent_commands (command_id, agent_id, action, payload) values ('fz-final', ${victim.agentId}, 'stop_session', '{"sessionId":"x"}')`);
    await settle(victim.agentId);
    expect((await socket.nextFrame()).payload).toMatchObject({ commandId: "fz-final", action: "stop_session" });
    socket.send({ type: "ack", payload: { commandId: "fz-final" } });
    socket.send({ type: "complete", payload: { commandId: "fz-final", result: { state: "terminated" } } });
    await expect.poll(async () => (await getCommand("fz-final"))?.status, { timeout: 10_000 }).toBe("completed");

    expect(await canaryRows(), `fuzz seed ${SEED}: the canary's rows changed`).toStrictEqual(canaryBefore);
    expect(await rowsOf("agent_commands", victim.agentId, sql`and command_id in (${sql.join(victimFinishedBefore.map((j) => sql`${JSON.parse(j).command_id}`), sql`, `)})`),
      `fuzz seed ${SEED}: a finished command of the victim changed`).toStrictEqual(victimFinishedBefore);
    socket.close();
  });
});
