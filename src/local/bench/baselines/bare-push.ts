/**
 * Floor (ii): Worker → Durable Object → ws.send with no database at all, in a second workerd
 * (Miniflare) running a tiny inline worker. Its latency is the runtime's share of a dispatch;
 * its throughput (same concurrency and agent count as the throughput scenario) is the ceiling
 * the real dispatcher could reach if Postgres cost nothing.
 *
 * Given a SQL endpoint, the same worker also serves the bare dispatch: one INSERT sent to the
 * local SQL-over-HTTP endpoint exactly as the Neon driver sends a single statement, then the same
 * push. That is every hop a real dispatch takes, with nothing of the dispatcher in between. And
 * the bare exchange: the bare dispatch whose agent answers `ack` and then `complete`, each of
 * which the object records with one UPDATE, in order: the three writes the protocol requires of
 * a command (its creation, its ack, its completion) and nothing else.
 */
import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import type { V4MiniflareOptions } from "miniflare";
import WebSocket from "ws";
import { databaseCpuMs, processCpuMs, watchForNewWorkerd } from "../proc";
import type { LatencySummary } from "../stats";
import { perSecond, round, summarize } from "../stats";
import { Rendezvous, now, pollUntil, runBounded } from "../util";

/**
 * The DO accepts a hibernatable socket and, on RPC push(), sends the body to it. `/dispatch`
 * inserts a row over SQL-over-HTTP first (the request the driver makes, see src/db/client.ts).
 */
const PUSH_WORKER = `
import { DurableObject } from "cloudflare:workers";
export class Push extends DurableObject {
  async fetch(request) {
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }
  push(body) {
    let sent = 0;
    for (const ws of this.ctx.getWebSockets()) { ws.send(body); sent++; }
    return sent;
  }
  // The bare exchange's answers, "ack:<id>" then "complete:<id>": one UPDATE each, in arrival
  // order (as an agent's answers are applied), then "done:<id>" back once the complete is written.
  // Folded ("ack:<id>:folded"), the ack is not written: as if the complete recorded it.
  webSocketMessage(ws, message) {
    const [kind, id, folded] = String(message).split(":");
    if ((kind !== "ack" && kind !== "complete") || !id) return;
    if (kind === "ack" && folded) return;
    const column = kind === "ack" ? "acked_at" : "completed_at";
    this.answers = (this.answers ?? Promise.resolve()).then(async () => {
      await sqlQuery(this.env, "update bench_bare_commands set " + column + " = now() where id = $1", [id]);
      if (kind === "complete") ws.send("done:" + id);
    });
    return this.answers;
  }
  webSocketClose() {}
}
async function sqlQuery(env, query, params) {
  const res = await fetch(env.SQL_ENDPOINT, {
    method: "POST",
    headers: { "Neon-Connection-String": env.DATABASE_URL, "Neon-Raw-Text-Output": "true", "Neon-Array-Mode": "true", "Content-Type": "application/json" },
    body: JSON.stringify({ query, params }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error("statement failed: " + res.status + " " + text);
  return JSON.parse(text);
}
export default {
  async fetch(request, env) {
    const [, kind, id] = new URL(request.url).pathname.split("/");
    if (kind === "connect" && id && request.headers.get("Upgrade") === "websocket") {
      return env.PUSH.getByName(id).fetch(request);
    }
    if (kind === "push" && id && request.method === "POST") {
      const sent = await env.PUSH.getByName(id).push(await request.text());
      return new Response(String(sent));
    }
    if (kind === "dispatch" && id && request.method === "POST" && env.SQL_ENDPOINT) {
      const body = await request.text();
      try {
        await sqlQuery(env, "insert into bench_floor (at) values (now())", []);
      } catch (err) {
        return new Response(String(err), { status: 502 });
      }
      const sent = await env.PUSH.getByName(id).push(body);
      return new Response(String(sent));
    }
    if ((kind === "exchange" || kind === "exchange-folded") && id && request.method === "POST" && env.SQL_ENDPOINT) {
      await request.text();
      let row;
      try {
        row = (await sqlQuery(env, "insert into bench_bare_commands default values returning id", [])).rows[0][0];
      } catch (err) {
        return new Response(String(err), { status: 502 });
      }
      const sent = await env.PUSH.getByName(id).push("answer:" + row + (kind === "exchange-folded" ? ":folded" : ""));
      return new Response(String(sent));
    }
    return new Response("not found", { status: 404 });
  },
};
`;

/** Same as wrangler.toml, so both runtimes behave alike. */
const COMPATIBILITY_DATE = "2026-11-01";

/**
 * A rate measured on a bare-push workerd of its own, with the CPU each side spent per push (or
 * dispatch, or exchange): its workerd, this Node process (agents, HTTP client, the local proxy),
 * and Postgres with PgBouncer.
 */
export type BareCeiling = BarePushResult["ceiling"] & {
  cpuMsPerPush: { workerd: number | null; benchProcess: number; database: number | null };
};

export type BarePushResult = {
  latency: LatencySummary;
  ceiling: { pushes: number; agents: number; inFlight: number; elapsedMs: number; perSecond: number };
};

/** The bare-push workerd, running: sockets connected to it, and one push at a time. */
export type BarePush = {
  /** Connects agents `a-<from>` … `a-<to - 1>`, 100 at a time. */
  connect(from: number, to: number, onProgress?: (text: string) => void): Promise<void>;
  /** One push to `a-<agent>`: POST → the frame arrives at its socket, in ms. */
  latencyOnce(agent: number): Promise<number>;
  /** One INSERT over SQL-over-HTTP, then one push (needs `sql` at start): POST → frame, in ms. */
  dispatchOnce(agent: number): Promise<number>;
  /**
   * `pushes` pushes (or bare dispatches, or bare exchanges) over the connected agents with
   * `inFlight` at a time, until every frame arrived (an exchange's: its `done`): per second.
   */
  ceiling(pushes: number, agents: number, inFlight: number, kind?: BareKind): Promise<{ elapsedMs: number; perSecond: number }>;
  /** CPU time its workerd process has used so far, in ms (undefined when unknown). */
  cpuMs(): number | undefined;
  stop(): Promise<void>;
};

/** Where the bare dispatch sends its INSERT: the proxy's SQL endpoint and the Worker's database URL. */
export type BareSql = { endpoint: string; databaseUrl: string };

/**
 * A bare push (no database); a bare dispatch (one INSERT over SQL-over-HTTP, then the push); a
 * bare exchange (a bare dispatch the agent answers with ack and complete, each one UPDATE); or a
 * folded one (the same answers, only the complete written).
 */
export type BareKind = "push" | "dispatch" | "exchange" | "exchange-folded";

const BARE_NOUNS: Record<BareKind, string> = { push: "pushes", dispatch: "dispatches", exchange: "exchanges", "exchange-folded": "folded exchanges" };

export async function startBarePush(sql?: BareSql): Promise<BarePush> {
  const options = {
    name: "bare-push",
    modules: true,
    script: PUSH_WORKER,
    bindings: sql ? { SQL_ENDPOINT: sql.endpoint, DATABASE_URL: sql.databaseUrl } : {},
    compatibilityDate: COMPATIBILITY_DATE,
    durableObjects: { PUSH: { className: "Push", useSQLite: true } },
    host: "127.0.0.1",
    port: 0,
    cf: false,
  } as V4MiniflareOptions;
  const newWorkerd = watchForNewWorkerd();
  const mf = new Miniflare(convertV4MiniflareOptions(options));
  const sockets: WebSocket[] = [];
  const stop = async () => {
    for (const ws of sockets) ws.terminate();
    await mf.dispose();
  };
  let url: string;
  try {
    url = (await mf.ready).toString().replace(/\/$/, "");
  } catch (err) {
    await stop();
    throw err;
  }
  const pid = newWorkerd();
  const arrivals = new Rendezvous<string, number>();
  let received = 0;
  let recordArrivals = true;
  let sequence = 0;
  const connectOne = (id: string) =>
    new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(`${url.replace(/^http/, "ws")}/connect/${id}`, { perMessageDeflate: false });
      ws.on("message", (data) => {
        const text = data.toString();
        if (text.startsWith("answer:")) {
          const command = text.slice("answer:".length); // "<id>" or "<id>:folded"
          ws.send(`ack:${command}`);
          ws.send(`complete:${command}`);
          return;
        }
        received++;
        if (recordArrivals) arrivals.arrive(text, now());
      });
      ws.once("open", () => resolve());
      ws.once("error", reject);
      sockets.push(ws);
    });
  const push = async (id: string, body: string, kind: BareKind = "push") => {
    const res = await fetch(`${url}/${kind}/${id}`, { method: "POST", body });
    const text = await res.text();
    if (!res.ok) throw new Error(`${kind} answered ${res.status}: ${text}`);
  };
  /** One request to `a-<agent>`: POST → its frame arrives at the socket, in ms. */
  const timedOnce = async (agent: number, kind: BareKind) => {
    const body = `${kind}-${sequence++}`;
    const started = now();
    await push(`a-${agent}`, body, kind);
    return (await arrivals.wait(body, 10_000)) - started;
  };
  return {
    async connect(from, to, onProgress) {
      for (let i = from; i < to; i += 100) {
        await Promise.all(Array.from({ length: Math.min(100, to - i) }, (_, j) => connectOne(`a-${i + j}`)));
        onProgress?.(`${Math.min(to, i + 100)}/${to} sockets`);
      }
    },
    latencyOnce: (agent) => timedOnce(agent, "push"),
    cpuMs: () => processCpuMs(pid),
    dispatchOnce(agent) {
      if (!sql) return Promise.reject(new Error("bare dispatch needs a SQL endpoint"));
      return timedOnce(agent, "dispatch");
    },
    async ceiling(pushes, agents, inFlight, kind = "push") {
      if (kind !== "push" && !sql) throw new Error(`bare ${kind} needs a SQL endpoint`);
      arrivals.clear();
      received = 0;
      recordArrivals = false; // only the count matters now
      try {
        const started = now();
        const errors = await runBounded(pushes, inFlight, (i) => push(`a-${i % agents}`, `tp-${i}`, kind));
        if (errors.length) throw new Error(`bare ${kind}: ${errors.length} of ${pushes} failed, e.g. ${String(errors[0])}`);
        await pollUntil(`all bare ${BARE_NOUNS[kind]} done`, () => received >= pushes, 60_000, 5);
        const elapsedMs = now() - started;
        return { elapsedMs, perSecond: perSecond(pushes, elapsedMs) };
      } finally {
        recordArrivals = true;
      }
    },
    stop,
  };
}

/**
 * The ceiling alone, on a bare-push workerd of its own: what the throughput scenario measures
 * right before and after its run (see ThroughputResult.ceilingAlongside); or, by `kind`, the rate
 * of bare dispatches or bare exchanges: a command's hops and writes with nothing of the dispatcher
 * (ThroughputResult.bareAlongside).
 */
export async function measureBareCeiling(opts: {
  pushes: number;
  agents: number;
  inFlight: number;
  /** For a `dispatch` or an `exchange`. */
  sql?: BareSql;
  kind?: BareKind;
  onProgress?: (text: string) => void;
}): Promise<BareCeiling> {
  const kind = opts.kind ?? "push";
  const bare = await startBarePush(opts.sql);
  try {
    await bare.connect(0, opts.agents, opts.onProgress);
    // Untimed first, as the up-front ceiling follows its latency samples: a fresh workerd's first
    // pushes pay for compiling the code.
    await bare.ceiling(Math.min(200, opts.pushes), opts.agents, opts.inFlight, kind);
    opts.onProgress?.(`${opts.pushes} bare ${BARE_NOUNS[kind]}`);
    const workerd0 = bare.cpuMs();
    const database0 = databaseCpuMs();
    const self0 = process.cpuUsage();
    const timed = await bare.ceiling(opts.pushes, opts.agents, opts.inFlight, kind);
    const self = process.cpuUsage(self0);
    const workerd1 = bare.cpuMs();
    const database1 = databaseCpuMs();
    const per = (ms: number) => round(ms / opts.pushes);
    return {
      pushes: opts.pushes,
      agents: opts.agents,
      inFlight: opts.inFlight,
      ...timed,
      cpuMsPerPush: {
        workerd: workerd0 !== undefined && workerd1 !== undefined ? per(workerd1 - workerd0) : null,
        benchProcess: per((self.user + self.system) / 1000),
        database: database0 !== undefined && database1 !== undefined ? per(database1 - database0) : null,
      },
    };
  } finally {
    await bare.stop();
  }
}

export async function measureBarePush(opts: {
  latencySamples: number;
  pushes: number;
  agents: number;
  inFlight: number;
  onProgress?: (text: string) => void;
}): Promise<BarePushResult> {
  const bare = await startBarePush();
  try {
    await bare.connect(0, opts.agents, opts.onProgress);
    const samples: number[] = [];
    for (let i = -5; i < opts.latencySamples; i++) {
      const ms = await bare.latencyOnce(0);
      if (i >= 0) samples.push(ms);
    }
    opts.onProgress?.(`latency done; ceiling: ${opts.pushes} pushes`);
    const ceiling = await bare.ceiling(opts.pushes, opts.agents, opts.inFlight);
    return {
      latency: summarize(samples),
      ceiling: { pushes: opts.pushes, agents: opts.agents, inFlight: opts.inFlight, ...ceiling },
    };
  } finally {
    await bare.stop();
  }
}
