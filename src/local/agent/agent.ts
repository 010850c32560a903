/**
 * The reference agent: registers, holds one WebSocket to the control plane, heartbeats, runs
 * commands through its dialect, and reconnects with backoff until stopped (or, with
 * `reconnect: false`, stops when its connection ends, as docker-agent does). A stand-in for the
 * StreamSpace agents in tests and demos, so it copies their observable behaviour, not their code.
 */
import WebSocket from "ws";
import { backoffDelay, sleep } from "./backoff";
import { CommandLedger } from "./command-ledger";
import { CommandRunner } from "./command-runner";
import type { CommandCounts } from "./command-runner";
import { getDialect } from "./dialect";
import type { CommandContext, Dialect, OutboundFrame } from "./dialect";
import { parseAgentOptions } from "./options";
import type { AgentConfig, AgentHooks, AgentOptions, AgentState } from "./options";
import { API_KEY_HEADER, connectUrl, registerAgent } from "./register";
import { openSocket } from "./socket";

/** A snapshot of the agent's counters. */
export interface AgentStats extends CommandCounts {
  state: AgentState;
  activeSessions: number;
  /** Commands waiting behind the one in progress. */
  queued: number;
  heartbeats: number;
  /** Server messages that failed validation. */
  malformed: number;
  /** Valid server messages of a type other than `command` that got no answer. */
  ignored: number;
  /** Server control messages answered (ping; docker's shutdown). */
  controls: number;
  /** WebSocket connections that opened. */
  connects: number;
  /** Backoff waits before a retry. */
  retries: number;
}

interface Connection {
  closeCode: number;
  closeReason: string;
  upMs: number;
}

/** A simulated StreamSpace agent; build, `start()`, and `await stop()`. */
export class ReferenceAgent {
  /** Validated configuration (throws a ZodError from the constructor if invalid). */
  readonly config: AgentConfig;
  readonly dialect: Dialect;
  private readonly hooks: AgentHooks;
  private readonly ctx: CommandContext;
  private readonly abort = new AbortController();
  private readonly runner: CommandRunner;
  private readonly stateListeners = new Set<(state: AgentState) => void>();
  private currentKey: string;
  private currentState: AgentState = "idle";
  private ws: WebSocket | null = null;
  private heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  private loop: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  private readonly counters = { heartbeats: 0, malformed: 0, ignored: 0, controls: 0, connects: 0, retries: 0 };
  /** Set by kill(): the socket is cut without a close frame. */
  private killed = false;

  constructor(options: AgentOptions) {
    const { config, hooks } = parseAgentOptions(options);
    this.config = config;
    this.hooks = hooks;
    this.dialect = hooks.sharedDialect ?? getDialect(config.dialect);
    if (this.dialect.name !== config.dialect) {
      throw new Error(`sharedDialect is a ${this.dialect.name} dialect, but the agent is configured for ${config.dialect}`);
    }
    this.currentKey = config.apiKey;
    this.ctx = { now: hooks.now ?? (() => new Date()), random: hooks.random ?? Math.random };
    this.runner = new CommandRunner({
      dialect: this.dialect,
      ledger: new CommandLedger(config.dedupLimit),
      dedupe: config.dedupe,
      workMs: config.workMs,
      ctx: this.ctx,
      signal: this.abort.signal,
      send: (frame) => this.send(frame),
      log: (message) => this.log(message),
      onCommand: hooks.onCommand,
      onCommandDone: hooks.onCommandDone,
    });
  }

  get id(): string {
    return this.config.agentId;
  }

  get state(): AgentState {
    return this.currentState;
  }

  /** The key in use: the configured one, or the one the server issued at registration. */
  get apiKey(): string {
    return this.currentKey;
  }

  stats(): AgentStats {
    return {
      ...this.runner.counts,
      ...this.counters,
      state: this.currentState,
      activeSessions: this.activeSessions(),
      queued: this.runner.queued,
    };
  }

  /** Starts the register/connect loop in the background; a second call does nothing. */
  start(): void {
    if (this.loop || this.stopping) return;
    this.loop = this.run();
  }

  /** Closes the socket (1000), drops queued work and timers; resolves once everything ended. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  /**
   * Dies abruptly, like a crashed process: the TCP connection is cut without a close frame
   * (the server sees 1006), the command in progress ends without a result, timers stop and
   * nothing reconnects. Resolves once everything ended. A killed agent cannot be restarted;
   * build a new one (which, like a restarted process, remembers no finished commands).
   */
  kill(): Promise<void> {
    this.killed = true;
    // Before the abort: on an open socket the abort would start a clean close handshake.
    this.ws?.terminate();
    this.ws = null;
    return this.stop();
  }

  /** Resolves when the agent is (or becomes) in `state`; rejects after `timeoutMs` or on stop. */
  waitForState(state: AgentState, timeoutMs = 10_000): Promise<void> {
    if (this.currentState === state) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const listener = (s: AgentState) => {
        if (s !== state && s !== "stopped") return;
        done();
        if (s === state) resolve();
        else reject(new Error(`agent ${this.id} stopped while waiting for state ${state}`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`agent ${this.id}: no state ${state} within ${timeoutMs} ms (now ${this.currentState})`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.stateListeners.delete(listener);
      };
      this.stateListeners.add(listener);
    });
  }

  /** Resolves once no command is queued or in progress. */
  idle(): Promise<void> {
    return this.runner.idle();
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.abort.signal.aborted) {
      let upMs = 0;
      let wasConnected = false;
      try {
        await this.register();
        const conn = await this.connect();
        wasConnected = true;
        upMs = conn.upMs;
        if (!this.abort.signal.aborted) {
          this.log(`disconnected (code ${conn.closeCode}${conn.closeReason ? `, ${conn.closeReason}` : ""}) after ${upMs} ms`);
        }
      } catch (err) {
        if (!this.abort.signal.aborted) this.log(`connection failed: ${errorText(err)}`);
      }
      if (this.abort.signal.aborted) break;
      if (wasConnected && !this.config.reconnect) {
        this.log("not reconnecting (reconnect disabled): stopping");
        // Not awaited: stop() waits for this very loop to end.
        void this.stop();
        break;
      }
      if (upMs >= this.config.stableMs) failures = 0;
      failures++;
      const delay = backoffDelay(failures, this.config.backoff, this.ctx.random);
      this.counters.retries++;
      this.setState("backoff");
      this.log(`retry #${failures} in ${(delay / 1000).toFixed(1)} s`);
      await sleep(delay, this.abort.signal);
    }
  }

  private async register(): Promise<void> {
    this.setState("registering");
    const result = await registerAgent({
      url: this.config.url,
      apiKey: this.currentKey,
      body: this.dialect.registrationBody(this.config),
      approvalPollMs: this.config.approvalPollMs,
      signal: this.abort.signal,
      fetch: this.hooks.fetch,
      policy: this.dialect.registration,
      onPending: (message) => {
        this.setState("awaiting_approval");
        this.log(`registration pending approval (${message}); retrying in ${this.config.approvalPollMs / 1000} s`);
      },
    });
    if (result.apiKey !== this.currentKey) {
      this.currentKey = result.apiKey;
      this.log("switched to the API key issued at registration");
    }
    this.log(`registered${result.approvalStatus ? ` (${result.approvalStatus})` : ""}`);
  }

  /** Opens the socket and resolves when it closes; rejects if it never opened. */
  private async connect(): Promise<Connection> {
    this.setState("connecting");
    const url = connectUrl(this.config.url, this.id);
    const headers = { [API_KEY_HEADER]: this.currentKey };
    let since = Date.now();
    const { closed } = await openSocket(url, headers, this.abort.signal, {
      onOpen: (ws) => {
        since = Date.now();
        this.onOpen(ws, url);
      },
      onMessage: (text) => this.onMessage(text),
    });
    const { code, reason } = await closed;
    this.stopHeartbeat();
    this.ws = null;
    return { closeCode: code, closeReason: reason, upMs: Date.now() - since };
  }

  private onOpen(ws: WebSocket, url: string): void {
    this.ws = ws;
    this.counters.connects++;
    this.setState("connected");
    this.log(`connected to ${url}`);
    if (this.config.heartbeatOnConnect) this.heartbeat();
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.config.heartbeatMs);
  }

  private onMessage(text: string): void {
    const message = this.dialect.parseServerMessage(text);
    switch (message.kind) {
      case "malformed":
        this.counters.malformed++;
        this.log(`ignored malformed message: ${message.reason}`);
        return;
      case "ignored":
        this.onControl(message.type);
        return;
      case "command":
        this.runner.receive(message.command);
        return;
    }
  }

  /** A valid non-command message: answered if the dialect answers it, else ignored. */
  private onControl(type: string): void {
    const reply = this.dialect.controlReply(type, this.id, this.ctx.now());
    if (!reply) {
      this.counters.ignored++;
      this.log(`ignored message of type ${JSON.stringify(type)}`);
      return;
    }
    this.counters.controls++;
    const sent = this.send(reply.frame);
    this.log(`${type} → ${reply.frame.type}${sent ? "" : " (not connected: dropped)"}`);
    if (reply.thenStop) {
      this.log(`${type}: stopping as asked`);
      // The reply is already queued on the socket, ahead of the close frame stop() sends.
      void this.stop();
    }
  }

  /** What heartbeats report: the simulated platform's count if the dialect keeps one. */
  private activeSessions(): number {
    return this.dialect.activeSessions?.() ?? this.runner.activeSessions;
  }

  private heartbeat(): void {
    const active = this.activeSessions();
    if (this.send(this.dialect.heartbeatFrame(active, this.ctx.now()))) {
      this.counters.heartbeats++;
      this.log(`heartbeat (activeSessions ${active})`);
    }
  }

  private send(frame: OutboundFrame): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(frame));
    this.hooks.onFrameSent?.(frame);
    return true;
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  private async shutdown(): Promise<void> {
    this.abort.abort();
    this.stopHeartbeat();
    await this.loop;
    await this.runner.idle();
    this.setState("stopped");
    this.log(this.killed ? "killed" : "stopped");
  }

  private setState(state: AgentState): void {
    const previous = this.currentState;
    if (previous === state || previous === "stopped") return;
    this.currentState = state;
    this.hooks.onStateChange?.(state, previous);
    for (const listener of [...this.stateListeners]) listener(state);
  }

  private log(message: string): void {
    this.hooks.log?.(`[agent ${this.id}] ${message}`);
  }
}

/** Error message plus its cause (fetch hides ECONNREFUSED there). */
function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : "";
  return `${err.message}${cause}`;
}
