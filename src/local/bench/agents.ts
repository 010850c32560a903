/**
 * A fleet of lightweight in-process agents: one raw `ws` WebSocket each, speaking the k8s-agent
 * wire format (spec §1.6–1.8). Far cheaper than the reference agent (no registration, no
 * command runner), so one Node process can hold thousands while workerd does the real work.
 */
import WebSocket from "ws";
import type { RawData } from "ws";
import { K8S_CAPACITY } from "../agent/k8s-dialect";
import { firstBeat, nextBeat, spreadBeat } from "./heartbeat-schedule";
import { sleep } from "./util";

export type AgentCredentials = { agentId: string; key: string };

/** What an agent answers to a command frame: nothing, `ack`, or `ack` then `complete`. */
export type AnswerMode = "none" | "ack" | "complete";

export type CommandEvent = {
  agentId: string;
  commandId: string;
  action: string;
  sessionId: string | undefined;
  /** performance.now() when the frame was read off the socket. */
  at: number;
};

export type FleetOptions = {
  wsUrl: string;
  answer: AnswerMode;
  onCommand?: (event: CommandEvent) => void;
};

/** `beatAt`: performance.now() of the member's next heartbeat while heartbeats run. */
type Member = AgentCredentials & { ws: WebSocket | null; open: boolean; beatAt: number };

/** Reconnect backoff for refused handshakes (e.g. a 503 while Postgres is saturated). */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2_000;
const HEARTBEAT_TICK_MS = 100;

/** Real agents' heartbeat interval: the flag default and Helm's `30s` (spec §1.10, `HEALTH_CHECK_INTERVAL`). */
export const AGENT_HEARTBEAT_MS = 30_000;

export class AgentFleet {
  readonly counters = { received: 0, acks: 0, completes: 0, heartbeats: 0, refused: 0, drops: 0 };
  readonly #members: Member[] = [];
  readonly #opts: FleetOptions;
  #stopping = false;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #heartbeatPeriodMs = 0;
  #heartbeatPaused = false;

  constructor(opts: FleetOptions) {
    this.#opts = opts;
  }

  get size(): number {
    return this.#members.length;
  }

  get openCount(): number {
    return this.#members.reduce((n, m) => n + (m.open ? 1 : 0), 0);
  }

  ids(): string[] {
    return this.#members.map((m) => m.agentId);
  }

  /** Answer mode can change between phases (e.g. silent for latency, answering for throughput). */
  setAnswer(mode: AnswerMode): void {
    this.#opts.answer = mode;
  }

  setOnCommand(handler: ((event: CommandEvent) => void) | undefined): void {
    if (handler) this.#opts.onCommand = handler;
    else delete this.#opts.onCommand;
  }

  /**
   * Opens sockets for `agents` with at most `concurrency` handshakes in flight (Infinity = all at
   * once, a storm). Refused handshakes are retried with jittered backoff, as real agents do, until
   * `timeoutMs`; resolves once every socket is open.
   */
  async connect(agents: AgentCredentials[], opts: { concurrency: number; timeoutMs: number }): Promise<void> {
    const members = agents.map((a) => ({ ...a, ws: null, open: false, beatAt: 0 }) satisfies Member);
    this.#members.push(...members);
    const deadline = Date.now() + opts.timeoutMs;
    let next = 0;
    const lane = async () => {
      for (;;) {
        const member = members[next++];
        if (!member) return;
        await this.#openWithRetry(member, deadline);
      }
    };
    const lanes = Number.isFinite(opts.concurrency) ? opts.concurrency : members.length;
    await Promise.all(Array.from({ length: Math.max(1, Math.min(lanes, members.length)) }, lane));
  }

  async #openWithRetry(member: Member, deadline: number): Promise<void> {
    let delay = RETRY_MIN_MS;
    for (;;) {
      if (this.#stopping) return;
      try {
        await this.#open(member);
        return;
      } catch (err) {
        this.counters.refused++;
        if (Date.now() > deadline) throw new Error(`agent ${member.agentId} could not connect: ${String(err)}`);
        await sleep(delay / 2 + Math.random() * (delay / 2));
        delay = Math.min(RETRY_MAX_MS, delay * 2);
      }
    }
  }

  #open(member: Member): Promise<void> {
    const url = `${this.#opts.wsUrl}/api/v1/agents/connect?agent_id=${encodeURIComponent(member.agentId)}`;
    const ws = new WebSocket(url, { headers: { "X-Agent-API-Key": member.key }, perMessageDeflate: false, handshakeTimeout: 30_000 });
    // Listen before the handshake completes: the connect drain can push frames right behind the 101.
    ws.on("message", (data) => this.#onMessage(member, ws, data));
    return new Promise<void>((resolve, reject) => {
      ws.once("open", () => {
        member.ws = ws;
        member.open = true;
        member.beatAt = firstBeat(performance.now(), this.#heartbeatPeriodMs);
        resolve();
      });
      ws.once("error", reject);
      ws.on("error", () => {});
      ws.once("close", () => {
        if (member.ws !== ws) return;
        member.open = false;
        member.ws = null;
        if (this.#stopping) return;
        // The server closed a live socket (liveness, replacement): reconnect like a real agent.
        this.counters.drops++;
        void this.#openWithRetry(member, Date.now() + 60_000).catch(() => {});
      });
    });
  }

  #onMessage(member: Member, ws: WebSocket, data: RawData): void {
    const at = performance.now();
    let frame: { type?: unknown; payload?: { commandId?: unknown; action?: unknown; payload?: { sessionId?: unknown } } };
    try {
      frame = JSON.parse(rawToText(data)) as typeof frame;
    } catch {
      return;
    }
    if (frame.type !== "command" || typeof frame.payload?.commandId !== "string") return;
    const commandId = frame.payload.commandId;
    const action = String(frame.payload.action ?? "");
    const sessionId = typeof frame.payload.payload?.sessionId === "string" ? frame.payload.payload.sessionId : undefined;
    this.counters.received++;
    this.#opts.onCommand?.({ agentId: member.agentId, commandId, action, sessionId, at });
    if (this.#opts.answer === "none") return;
    const timestamp = new Date().toISOString();
    ws.send(JSON.stringify({ type: "ack", timestamp, payload: { commandId } }));
    this.counters.acks++;
    if (this.#opts.answer !== "complete") return;
    const result = action === "start_session" ? { sessionId, state: "running" } : { sessionId };
    ws.send(JSON.stringify({ type: "complete", timestamp, payload: { commandId, result } }));
    this.counters.completes++;
  }

  /** Sends a frame as `agentId`; false if its socket is not open. */
  send(agentId: string, frame: unknown): boolean {
    const member = this.#members.find((m) => m.agentId === agentId);
    if (!member?.ws || !member.open) return false;
    member.ws.send(JSON.stringify(frame));
    return true;
  }

  /** A k8s-agent heartbeat; the capacity is constant, as a real cluster's usually is. */
  heartbeat(index: number): boolean {
    const member = this.#members[index];
    if (!member?.ws || !member.open) return false;
    member.ws.send(heartbeatFrame());
    this.counters.heartbeats++;
    return true;
  }

  heartbeatAll(): void {
    for (let i = 0; i < this.#members.length; i++) this.heartbeat(i);
  }

  /**
   * Every agent heartbeats once per `periodMs`, on heartbeat-schedule.ts's schedule. The DO closes
   * a socket silent for 45 s, so long phases need this.
   */
  startHeartbeats(periodMs: number): void {
    this.stopHeartbeats();
    this.#heartbeatPeriodMs = periodMs;
    const start = performance.now();
    this.#members.forEach((m, i) => {
      m.beatAt = spreadBeat(i, this.#members.length, start, periodMs);
    });
    this.#heartbeatTimer = setInterval(() => {
      const t = performance.now();
      for (let i = 0; i < this.#members.length; i++) {
        const m = this.#members[i]!;
        if (!m.open || m.beatAt > t) continue;
        if (!this.#heartbeatPaused) this.heartbeat(i);
        m.beatAt = nextBeat(m.beatAt, t, periodMs);
      }
    }, HEARTBEAT_TICK_MS);
  }

  stopHeartbeats(): void {
    if (this.#heartbeatTimer) clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = undefined;
    this.#heartbeatPeriodMs = 0;
  }

  /** Pausing (not stopping) keeps the schedule, so resuming does not bunch heartbeats up. */
  pauseHeartbeats(paused: boolean): void {
    this.#heartbeatPaused = paused;
  }

  /** Closes every socket cleanly and waits (bounded) for the close handshakes. */
  async close(): Promise<void> {
    this.#stopping = true;
    this.stopHeartbeats();
    const closing = this.#members.map(
      (m) =>
        new Promise<void>((resolve) => {
          const ws = m.ws;
          if (!ws || ws.readyState === WebSocket.CLOSED) return resolve();
          const timer = setTimeout(() => {
            ws.terminate();
            resolve();
          }, 3_000);
          ws.once("close", () => {
            clearTimeout(timer);
            resolve();
          });
          ws.close(1000, "bench done");
        }),
    );
    await Promise.all(closing);
  }
}

export function heartbeatFrame(): string {
  return JSON.stringify({
    type: "heartbeat",
    timestamp: new Date().toISOString(),
    payload: { status: "online", activeSessions: 0, capacity: K8S_CAPACITY },
  });
}

function rawToText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString("utf8");
  return data.toString("utf8");
}
