/**
 * AgentObject: one Durable Object per agent id. Owns the agent's hibernatable WebSocket,
 * delivers its commands in order, applies the frames it sends back, and declares it offline
 * when its heartbeats stop (an alarm, never a timer, so the object can hibernate).
 *
 * Used from outside only through `getAgentStub()` (fetch for the upgrade, RPC for the rest).
 * What must survive hibernation lives in the socket attachment and DO storage (`kv`); the
 * in-memory fields below only coordinate work within one wake-up.
 */
import { DurableObject } from "cloudflare:workers";
import { createDb, dbOptions } from "../db/client";
import type { Db, DbHandle } from "../db/client";
import { agentMarkOffline, agentMarkOnline } from "../db/queries/agents";
import { commandClaimPending, commandRequeueAndClaim } from "../db/queries/commands";
import type { ClaimedCommand } from "../db/queries/commands";
import { readConfig } from "../env";
import { isDatabaseUnavailable, retryableRollback } from "../errors";
import { deliveryPolicy } from "../lib/delivery-policy";
import type { DeliveryPolicy } from "../lib/delivery-policy";
import { newRequestId } from "../lib/ids";
import { createLogger } from "../lib/log";
import type { Logger } from "../lib/log";
import { readAttachment } from "./attachment";
import type { Attachment } from "./attachment";
import { CommandDelivery } from "./delivery";
import type { PushableCommand } from "./delivery";
import { applyAgentFrame, resolveAgentFrame } from "./frames";
import type { WorkFrame } from "./frames";
import { heartbeatNeedsWrite, isSilent, livenessDeadline, retryDelayMs } from "./liveness";
import type { HeartbeatMemory } from "./liveness";
import { FrameOutbox } from "./outbox";
import { MAX_FRAME_BYTES, frameBytes, parseAgentFrame } from "./protocol";
import { StoredValue } from "./stored-value";

/** The header the Worker uses to tell the DO which agent an upgrade is for (set after auth). */
export const AGENT_ID_HEADER = "X-Dispatch-Agent-Id";
/** When the Worker checked the upgrade's credentials (ms): see `disconnect`. */
export const AUTHORIZED_AT_HEADER = "X-Dispatch-Authorized-At";

/**
 * Whether credentials checked at `authorizedAt` were checked after a revocation at `revokedAt`,
 * with a margin for the clocks of the machines that took the two times: an old key read just
 * before the revocation must not pass for a new one. A new key reaches its agent through an
 * admin, so a connect with it comes well after the margin.
 */
export function authorizedSince(authorizedAt: number, revokedAt: number): boolean {
  return authorizedAt > revokedAt + REVOCATION_CLOCK_MARGIN_MS;
}
export const REVOCATION_CLOCK_MARGIN_MS = 2_000;

/** Close codes: 4000+ are application-defined (RFC 6455 §7.4.2). */
export const CLOSE_REPLACED = 4000;
export const CLOSE_SILENT = 4001;
export const CLOSE_REVOKED = 4002;
const CLOSE_TOO_BIG = 1009;

export type DeliverResult = { ok: true; sent: number } | { ok: false; reason: "agent_offline" };

/** Frames applied per outbox flush; the rest wait for the next one. */
const OUTBOX_BATCH = 100;
/** A heartbeat leaves the liveness alarm alone while it is due no sooner than this before the new deadline. */
const ALARM_SLACK_MS = 10_000;
/** How long a new socket's connect work waits for the previous socket's `sent` records. */
const RECORDS_WAIT_MS = 5_000;

export class AgentObject extends DurableObject<Env> {
  /** Frames kept while Postgres was unreachable (see outbox.ts). */
  readonly #outbox: FrameOutbox;
  readonly #delivery: CommandDelivery;
  // What must survive hibernation besides the sockets and their attachments (DO storage).
  /** The current socket's connId. */
  readonly #currentId = new StoredValue<string>(this.ctx.storage.kv, "current");
  /** A drain failed (e.g. the database was unreachable): retry at this time, with this attempt. */
  readonly #retryAt = new StoredValue<number>(this.ctx.storage.kv, "retryAt");
  readonly #retryAttempt = new StoredValue<number>(this.ctx.storage.kv, "retryAttempt");
  /** When the agent's credentials last went away (see `disconnect`). */
  readonly #revokedAt = new StoredValue<number>(this.ctx.storage.kv, "revokedAt");

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#outbox = new FrameOutbox(ctx.storage.sql);
    this.#delivery = new CommandDelivery({
      socket: () => this.#current()?.ws ?? null,
      db: () => this.#db(),
      policy: () => this.#policy(),
      log: (agentId) => this.#log(agentId),
      claim: (db, agentId, limit) => this.#claim(db, agentId, limit),
      onEmpty: () => this.#retryAttempt.set(undefined),
      onFailure: async (err, agentId, strandedSent) => {
        this.#log(agentId).error("AgentObject drain failed; will retry", { err, strandedSent });
        if (strandedSent) this.#redoConnectWork();
        await this.#scheduleRetry();
      },
    });
  }

  #database: DbHandle | null = null;
  /** The current socket as last found, so a frame does not scan every socket's attachment. */
  #socket: WebSocket | null = null;
  /** The alarm as this instance last set it (null: none); undefined until it sets one. */
  #alarmAt: number | null | undefined = undefined;
  /** Frames are applied one at a time, in arrival order, so their writes land in that order. */
  #frames: Promise<void> = Promise.resolve();
  /** Outbox flushes, chained (see #flushOutbox). */
  #flushes: Promise<unknown> = Promise.resolve();
  /** Agent status writes (online/offline) are chained so they land in event order. */
  #statusWrites: Promise<void> = Promise.resolve();

  /** Accepts an agent's WebSocket; a new socket replaces the previous one (checklist 23). */
  override async fetch(request: Request): Promise<Response> {
    const agentId = request.headers.get(AGENT_ID_HEADER);
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket" || !agentId) {
      return new Response("expected a WebSocket upgrade", { status: 426 });
    }
    // Credentials checked before they were revoked (the key rotated, the agent deleted) arrive
    // too late to be closed by the revocation: refuse them here. (No header: a Worker from
    // before it existed, during a deploy; refused only once something was revoked.)
    const authorizedAt = Number(request.headers.get(AUTHORIZED_AT_HEADER)) || 0;
    const revokedAt = this.#revokedAt.get();
    if (revokedAt !== undefined && !authorizedSince(authorizedAt, revokedAt)) {
      return new Response("credentials revoked since this connection was authorized", { status: 403 });
    }
    const { 0: client, 1: server } = new WebSocketPair();
    const now = Date.now();
    const heartbeat = { seen: now, written: 0, capacity: "" };
    // The next drain's first claim does the connect work too (see #claim).
    const attachment: Attachment = { agentId, connId: newRequestId(), connectedAt: now, authorizedAt, heartbeat, connectWorkDone: false };
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment(attachment);
    // Written before any await: the old socket's close event, whenever it runs, sees it is stale.
    this.#setCurrentId(attachment.connId);
    // The new socket's drain replaces a failed drain's retry, but frames kept during an outage
    // keep theirs: nothing else applies them unless the agent sends another work frame.
    if (this.#outbox.size() === 0) {
      this.#retryAt.set(undefined);
      this.#retryAttempt.set(undefined);
    }
    this.#delivery.forgetPushed();
    await this.#setAlarm(Math.min(livenessDeadline(now), this.#retryAt.get() ?? Number.POSITIVE_INFINITY));
    for (const ws of this.ctx.getWebSockets()) {
      if (ws !== server) ws.close(CLOSE_REPLACED, "replaced by a new connection");
    }
    // Started before returning, so an RPC deliver() arriving next joins this drain.
    this.ctx.waitUntil(this.#delivery.drain(agentId));
    return new Response(null, { status: 101, webSocket: client });
  }

  /**
   * RPC: deliver this agent's pending commands now, if it is connected. With `push` (a command
   * just created, with nothing older pending that was not pushed already) and nothing else in
   * flight, the command is sent first and recorded after, which takes the database off the
   * dispatch latency.
   */
  async deliver(push?: PushableCommand): Promise<DeliverResult> {
    const current = this.#current();
    if (!current) return { ok: false, reason: "agent_offline" };
    const agentId = current.attachment.agentId;
    if (push && this.#delivery.wasSent(push.commandId)) return { ok: true, sent: 0 };
    // `behind` is absent in a push from a Worker deployed before it existed, which pushed only
    // commands with nothing older pending: during a deploy, old Workers still call new objects.
    const behind = push?.behind ?? [];
    if (push && !this.#delivery.busy && current.attachment.connectWorkDone && this.#delivery.canPushBehind(behind)) {
      return { ok: true, sent: await this.#delivery.push(agentId, current.ws, push) };
    }
    return { ok: true, sent: await this.#delivery.drain(agentId) };
  }

  /**
   * RPC: close the agent's socket because its credentials or registration went away at
   * `revokedAt` (default: now), and refuse upgrades whose credentials were checked before then:
   * one authorized just before the change can reach this object only after this call. The
   * Worker calls it once before the change and once after, passing the time the change
   * committed, so a socket the agent opened since with its new key is left alone.
   */
  async disconnect(reason: string, revokedAt: number = Date.now()): Promise<void> {
    const latest = Math.max(this.#revokedAt.get() ?? 0, revokedAt);
    if (latest !== this.#revokedAt.get()) this.#revokedAt.set(latest);
    const current = this.#current();
    if (!current || authorizedSince(current.attachment.authorizedAt, revokedAt)) return;
    current.ws.close(CLOSE_REVOKED, reason.slice(0, 120));
    await this.#onDisconnected(current.ws, current.attachment);
  }

  /**
   * RPC for the sweep's backstop: true if a socket is connected, in which case the agent is
   * written online again (its stored heartbeat had gone stale); false lets the sweep mark it offline.
   */
  async confirmOnline(): Promise<boolean> {
    const current = this.#current();
    if (!current) return false;
    await this.#writeStatus(async () => {
      if (this.#current()) await agentMarkOnline(this.#db(), current.attachment.agentId);
    });
    this.#noteWritten(Date.now());
    return true;
  }

  /** RPC: whether a socket is connected, for admin views and tests. */
  async isConnected(): Promise<boolean> {
    return this.#current() !== null;
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    try {
      await this.#onMessage(ws, message);
    } catch (err) {
      // An exception escaping a handler would close the agent's socket: bad input must not.
      this.#log(readAttachment(ws)?.agentId ?? "?").error("AgentObject webSocketMessage failed", { err });
    }
  }

  async #onMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const attachment = readAttachment(ws);
    if (!attachment) return;
    if (frameBytes(message) > MAX_FRAME_BYTES) {
      ws.close(CLOSE_TOO_BIG, "message too big");
      await this.#onDisconnected(ws, attachment);
      return;
    }
    const frame = parseAgentFrame(message);
    if (!frame) return;
    // Liveness counts a heartbeat when it arrives, not when the writes of the frames before it
    // are done: a database slow for 15 s behind one `complete` must not get a live agent closed
    // as silent. Only its write waits its turn.
    if (frame.type === "heartbeat") await this.#noteHeartbeat(attachment);
    const apply =
      frame.type === "heartbeat"
        ? this.#frames.then(() => this.#onHeartbeat(attachment, frame.payload.capacity ?? undefined))
        : this.#frames.then(() => this.#applyFrame(attachment.agentId, frame));
    this.#frames = apply.catch(() => {});
    await apply;
  }

  override async webSocketClose(ws: WebSocket): Promise<void> {
    const attachment = readAttachment(ws);
    if (attachment) await this.#onDisconnected(ws, attachment);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    const attachment = readAttachment(ws);
    if (attachment) await this.#onDisconnected(ws, attachment);
  }

  /**
   * Liveness check (checklist 21): a socket silent for HEARTBEAT_TIMEOUT_MS is closed and the
   * agent marked offline; otherwise the alarm moves to the new deadline. Alarms may fire more
   * than once, so this only acts on what storage says now.
   */
  override async alarm(): Promise<void> {
    // The alarm that fired is spent; what this handler sets is recorded as it sets it.
    this.#alarmAt = null;
    const current = this.#current();
    const now = Date.now();
    if (current && isSilent(current.attachment.heartbeat.seen, now)) {
      this.#log(current.attachment.agentId).warn("no heartbeat: closing the socket", { lastSeen: current.attachment.heartbeat.seen });
      current.ws.close(CLOSE_SILENT, "no heartbeat");
      await this.#onDisconnected(current.ws, current.attachment);
      return;
    }
    const retryAt = this.#retryAt.get();
    if (retryAt !== undefined && retryAt <= now) {
      this.#retryAt.set(undefined);
      // Kept frames first: they were received before anything the drain could cause.
      const flushed = await this.#flushOutbox();
      if (flushed && current) await this.#delivery.drain(current.attachment.agentId); // re-schedules itself on failure
      else if (flushed) this.#retryAttempt.set(undefined);
    }
    await this.#armAlarm();
  }

  /** One alarm serves two deadlines, liveness and a pending retry; it is set to the sooner. */
  async #armAlarm(): Promise<void> {
    const current = this.#current();
    const liveness = current ? livenessDeadline(current.attachment.heartbeat.seen) : Number.POSITIVE_INFINITY;
    const next = Math.min(liveness, this.#retryAt.get() ?? Number.POSITIVE_INFINITY);
    await this.#setAlarm(Number.isFinite(next) ? next : null);
  }

  /** Every change of the alarm goes through here, so #alarmAt can stand in for reading it. */
  async #setAlarm(at: number | null): Promise<void> {
    this.#alarmAt = undefined;
    if (at === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(at);
    this.#alarmAt = at;
  }

  /**
   * Moves the liveness alarm past a heartbeat, so that while heartbeats flow it never fires.
   * Otherwise the alarm, set 45 s after some heartbeat, wakes the hibernated object between
   * every two heartbeats only to find a newer one and re-arm: at the real 30 s cadence that is
   * one wake-up per heartbeat, each costing more workerd CPU than the heartbeat itself.
   * Faster heartbeats move it only once it was set more than ALARM_SLACK_MS earlier, sparing a
   * write each.
   * Just woken, the object does not know its alarm and moves it without reading it first: at the
   * 30 s cadence the heartbeat would move it anyway.
   */
  async #keepAlarmAhead(seen: number): Promise<void> {
    const at = this.#alarmAt;
    if (at !== undefined && at !== null && at >= livenessDeadline(seen) - ALARM_SLACK_MS) return;
    await this.#armAlarm();
  }

  /** Sets the next retry; returns its attempt number and delay, for the log. */
  async #scheduleRetry(): Promise<{ attempt: number; retryInMs: number }> {
    const attempt = (this.#retryAttempt.get() ?? 0) + 1;
    const retryInMs = Math.round(retryDelayMs(attempt));
    this.#retryAttempt.set(attempt);
    this.#retryAt.set(Date.now() + retryInMs);
    await this.#armAlarm();
    return { attempt, retryInMs };
  }

  /**
   * The busiest message in the system, as it arrives: remember it with the socket (no storage
   * write) and keep the liveness alarm ahead of it.
   */
  async #noteHeartbeat(attachment: Attachment): Promise<void> {
    const current = this.#current();
    if (current?.attachment.connId !== attachment.connId) return;
    const now = Date.now();
    this.#putHeartbeat(current, { ...current.attachment.heartbeat, seen: now });
    await this.#keepAlarmAhead(now);
  }

  /** A heartbeat's turn among the frames: write Postgres only when selection or capacity needs it (see liveness.ts). */
  async #onHeartbeat(attachment: Attachment, capacity: unknown): Promise<void> {
    const current = this.#current();
    if (current?.attachment.connId !== attachment.connId) return;
    const now = Date.now();
    const memory = current.attachment.heartbeat;
    const capacityJson = capacity === undefined ? undefined : JSON.stringify(capacity);
    if (!heartbeatNeedsWrite(memory, now, capacityJson)) return;
    try {
      // status/activeSessions are informational on the WebSocket path (checklist 20).
      await this.#writeStatus(async () => {
        if (this.#current()) await agentMarkOnline(this.#db(), attachment.agentId, capacity);
      });
      const latest = this.#current();
      if (latest?.attachment.connId === attachment.connId) {
        this.#putHeartbeat(latest, { ...latest.attachment.heartbeat, written: now, capacity: capacityJson ?? memory.capacity });
      }
    } catch (err) {
      // Not written: the next heartbeat tries again, since `written` did not move.
      this.#log(attachment.agentId).error("AgentObject heartbeat write failed", { err });
    }
  }

  async #applyFrame(agentId: string, frame: WorkFrame): Promise<void> {
    if (this.#outbox.size() > 0) {
      // Earlier frames are still waiting for the database: keep the order.
      this.#outbox.keep(agentId, frame);
      await this.#flushOutbox();
      return;
    }
    const resolved: { frame?: WorkFrame } = {};
    try {
      await this.#apply(agentId, frame, resolved);
    } catch (err) {
      // An outage, or work Postgres rolled back that goes through when retried (a deadlock, a
      // statement timeout).
      const rolledBack = retryableRollback(err);
      if (!isDatabaseUnavailable(err) && !rolledBack) throw err;
      const why = rolledBack ?? "database unavailable";
      this.#log(agentId).warn(`${why}: frame kept for retry`, { type: frame.type, err });
      this.#outbox.keep(agentId, resolved.frame ?? frame);
      await this.#scheduleRetry();
    }
  }

  /**
   * Applies kept frames oldest first; stops (and schedules a retry) at the first that still fails.
   * One flush at a time: the alarm's and a new frame's could otherwise overlap and apply the same
   * frames twice, the later ones possibly before the earlier.
   */
  #flushOutbox(): Promise<boolean> {
    const flush = this.#flushes.then(() => this.#flushKept());
    this.#flushes = flush.catch(() => {});
    return flush;
  }

  async #flushKept(): Promise<boolean> {
    const rows = this.#outbox.oldest(OUTBOX_BATCH);
    if (rows.length === 0) return true;
    let applied = 0;
    for (const row of rows) {
      const resolved: { frame?: WorkFrame } = {};
      try {
        await this.#apply(row.agentId, row.frame, resolved);
        applied++;
      } catch (err) {
        const rolledBack = retryableRollback(err);
        if (isDatabaseUnavailable(err) || rolledBack) {
          if (resolved.frame) this.#outbox.replace(row.seq, resolved.frame);
          const retry = await this.#scheduleRetry();
          const why = rolledBack ?? "database unavailable";
          this.#log(row.agentId).warn(`${why}: kept frames wait for the next retry`, { err, kept: this.#outbox.size(), ...retry });
          return false;
        }
        // Not an outage but a frame the database refuses: keeping it would block the rest.
        this.#log(row.agentId).error("AgentObject dropped a kept frame the database refuses", { err, type: row.frame.type });
      }
      this.#outbox.remove(row.seq);
    }
    this.#log(rows[0]!.agentId).info("kept frames applied", { applied, kept: this.#outbox.size() });
    if (this.#outbox.size() > 0) {
      // The database is back: the next batch goes at the shortest delay, not the outage's.
      this.#retryAttempt.set(undefined);
      await this.#scheduleRetry();
      return false;
    }
    return true;
  }

  /**
   * An ack records its command's delivery too. Any other answer to a command first has it recorded
   * `sent` if it was not, so a command finished without an ack keeps its `sent_at`. A docker
   * agent's reply names its session, not the command: everything pushed is recorded first, then
   * the reply is resolved to the command it answers, and `resolved.frame` says to what, for the
   * caller to keep that instead if the write fails (see resolveAgentFrame).
   */
  async #apply(agentId: string, received: WorkFrame, resolved: { frame?: WorkFrame }): Promise<void> {
    let frame = received;
    if (frame.type === "command_response") {
      // Failing, the reply is kept (an outage, a rollback) rather than matched to nothing.
      await this.#delivery.recordPushedForAnswer(agentId);
      const work = await resolveAgentFrame(this.#db(), agentId, frame);
      if (!work) return;
      resolved.frame = frame = work;
    }
    if (frame.type === "complete" || frame.type === "failed") await this.#delivery.recordOne(agentId, frame.payload.commandId);
    if (frame.type === "command_error") await this.#delivery.recordOne(agentId, frame.commandId);
    const queued = await applyAgentFrame(this.#db(), agentId, frame, this.#policy());
    if (frame.type === "ack") this.#delivery.answered(frame.payload.commandId);
    if (queued) {
      this.#log(agentId).warn("a start or wake ran after its session ended: stopping it again", { commandId: queued });
      // The sweep would send it too, a minute or so later; the pod runs until then.
      if (this.#current()) await this.#delivery.drain(agentId);
    }
  }

  /** Only the current socket's close marks the agent offline (checklist 25). */
  async #onDisconnected(ws: WebSocket, attachment: Attachment): Promise<void> {
    if (this.#currentId.get() !== attachment.connId) return;
    this.#setCurrentId(undefined);
    this.#delivery.forgetPushed();
    // A retry still pending (kept frames) keeps the alarm; liveness no longer does.
    if (this.#outbox.size() === 0) {
      this.#retryAt.set(undefined);
      this.#retryAttempt.set(undefined);
    }
    await this.#armAlarm();
    try {
      ws.close(1000, "closed");
    } catch {
      // Already closed.
    }
    try {
      await this.#writeStatus(async () => {
        if (!this.#current()) await agentMarkOffline(this.#db(), attachment.agentId);
      });
    } catch (err) {
      this.#log(attachment.agentId).error("AgentObject markOffline failed", { err });
    }
  }

  /**
   * A drain's claim. A new socket's first one also does its connect work, in the same
   * transaction: mark the agent online and re-queue what earlier sockets left unacknowledged (they
   * may have lost it), so those are claimed again with the rest, oldest first. Part of the drain,
   * so it never races a batch being sent; after the earlier sockets' `sent` records in flight
   * (see CommandDelivery.recordsWritten). One round trip instead of two: in the bench's reconnect
   * storm, 2,000 agents had their commands in 11.0 instead of 13.0 s (src/local/bench/HISTORY.md).
   */
  async #claim(db: Db, agentId: string, limit: number): Promise<ClaimedCommand[]> {
    const socket = this.#current();
    if (!socket || socket.attachment.connectWorkDone) return commandClaimPending(db, agentId, limit, this.#policy());
    await this.#delivery.recordsWritten(RECORDS_WAIT_MS);
    let claimed: ClaimedCommand[] = [];
    let markedOnline = false;
    await this.#writeStatus(async () => {
      markedOnline = this.#current() !== null;
      claimed = await commandRequeueAndClaim(db, agentId, { markOnline: markedOnline }, limit, this.#policy());
    });
    // Done for the socket current now, even one that replaced this one meanwhile: the
    // transaction re-queued everything sent before it (this socket was sent nothing yet, since
    // pushes wait for the connect work). If the socket changed, the drain puts what this claimed
    // back to pending (see CommandDelivery) and the current socket's next claim takes it, in
    // order; doing the work again would gain nothing. (Unless the agent had no socket when the
    // transaction ran: then it did not mark the agent online.)
    const latest = this.#current();
    if (latest && markedOnline) {
      const heartbeat = { ...latest.attachment.heartbeat, written: Date.now() };
      latest.ws.serializeAttachment({ ...latest.attachment, heartbeat, connectWorkDone: true });
    }
    return claimed;
  }

  /**
   * A drain's claim failed perhaps after it committed, or putting back what it claimed for a
   * socket that went away failed: what it took is `sent` but never went out, and is no longer
   * pending, so a newer command would be pushed ahead of it. The socket's next
   * claim re-queues its unacknowledged commands first, as a new socket's does, and pushes wait
   * for it. Those the agent did get may come twice: at least once, in order. (A claim Postgres
   * refused rolled back: nothing to re-queue, and nothing is sent twice.)
   */
  #redoConnectWork(): void {
    const current = this.#current();
    if (current?.attachment.connectWorkDone) current.ws.serializeAttachment({ ...current.attachment, connectWorkDone: false });
  }

  #current(): { ws: WebSocket; attachment: Attachment } | null {
    const connId = this.#currentId.get();
    if (connId === undefined) return null;
    const known = this.#socket;
    if (known?.readyState === WebSocket.OPEN) {
      const attachment = readAttachment(known);
      if (attachment?.connId === connId) return { ws: known, attachment };
    }
    this.#socket = null;
    for (const ws of this.ctx.getWebSockets()) {
      const attachment = readAttachment(ws);
      if (attachment?.connId === connId && ws.readyState === WebSocket.OPEN) {
        this.#socket = ws;
        return { ws, attachment };
      }
    }
    return null;
  }

  #setCurrentId(connId: string | undefined): void {
    this.#currentId.set(connId);
    this.#socket = null;
  }

  #putHeartbeat(current: { ws: WebSocket; attachment: Attachment }, heartbeat: HeartbeatMemory): void {
    current.ws.serializeAttachment({ ...current.attachment, heartbeat });
  }

  /** Postgres has just been told the agent is online: the stored heartbeat is fresh. */
  #noteWritten(at: number): void {
    const current = this.#current();
    if (current) this.#putHeartbeat(current, { ...current.attachment.heartbeat, written: at });
  }

  #writeStatus(write: () => Promise<void>): Promise<void> {
    const next = this.#statusWrites.then(write);
    this.#statusWrites = next.catch(() => {});
    return next;
  }

  #policy(): DeliveryPolicy {
    return deliveryPolicy(readConfig(this.env));
  }

  /**
   * Every statement of the object is sent as one HTTP request (Neon's SQL-over-HTTP endpoint),
   * the connect work with its claim as one transaction in one request, so the object holds no
   * database connection: it hibernates as soon as its work is done, and an outage leaves nothing
   * of it to repair. (A WebSocket kept for 1 s idle, which nearly every command's ack had to
   * reopen, measured the same in the bench: src/local/bench/HISTORY.md.)
   */
  #db(): Db {
    this.#database ??= createDb(dbOptions(readConfig(this.env)));
    return this.#database.db;
  }

  #log(agentId: string): Logger {
    return createLogger({ agentId, component: "AgentObject" });
  }
}
