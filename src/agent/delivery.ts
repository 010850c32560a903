/**
 * Sending an agent's commands over its socket: oldest first, one drain at a time, and a just
 * created command pushed before it is recorded. The part of AgentObject that claims, sends and
 * marks; used only by it. Covered by test/conformance/e-dispatch.test.ts, the delivery tests and
 * the fault tests.
 *
 * A pushed command is recorded `sent` by the agent's ack when the ack comes within
 * RECORD_DELAY_MS (the ack's statement fills in `sent_at`), else by one batched statement then:
 * a delivery costs no write of its own when the agent answers promptly.
 */
import type { Db } from "../db/client";
import { isDatabaseUnavailable, isRefusedByPostgres, retryableRollback } from "../errors";
import { OLDER_PENDING_LIMIT, commandMarkSent, commandRelease } from "../db/queries/commands";
import type { ClaimedCommand } from "../db/queries/commands";
import type { DeliveryPolicy } from "../lib/delivery-policy";
import type { Logger } from "../lib/log";
import { encodeCommandFrame } from "./protocol";
import { RECORD_DELAY_MS } from "./record-delay";

/** A just-created command the API hands over so the DO can push it without reading it back. */
export type PushableCommand = {
  commandId: string;
  action: string;
  payload: unknown;
  /** The agent's older commands that were still pending when this one was created. */
  behind: string[];
};

/** What the delivery needs from its Durable Object. */
export type DeliveryHost = {
  /** The agent's open socket, or null when it has none. */
  socket(): WebSocket | null;
  db(): Db;
  policy(): DeliveryPolicy;
  log(agentId: string): Logger;
  /** Claims up to `limit` of the agent's commands, oldest first (the DO adds its connect work). */
  claim(db: Db, agentId: string, limit: number): Promise<ClaimedCommand[]>;
  /** A pass found nothing more to send. */
  onEmpty(): void;
  /**
   * A pass failed; what it did not send is still pending in Postgres, unless `strandedSent`:
   * commands may be `sent` that never went out, because its claim failed in a way that leaves
   * unknown whether it committed (the answer was lost), or because putting back what it could not
   * send failed.
   */
  onFailure(err: unknown, agentId: string, strandedSent: boolean): Promise<void>;
};

/** Why a `sent` record was not written. */
type RecordFailure = { err: unknown };

/** Commands claimed per database round trip while draining the queue. */
const CLAIM_BATCH = 50;
/** How many sent ids a wake-up remembers (only races within milliseconds matter). */
const RECENTLY_SENT_LIMIT = 1000;

export class CommandDelivery {
  /** The running drain, if any; a second request sets #drainAgain instead of racing it. */
  #draining: Promise<number> | null = null;
  #drainAgain = false;
  /** Ids sent during this wake-up: a push racing a drain that already sent it is skipped. */
  readonly #recentlySent = new Set<string>();
  /**
   * Pushed on the current socket and still `pending` in Postgres: their record waits for the
   * ack. A drain that claims one records it and does not send it again.
   */
  readonly #unrecorded = new Set<string>();
  /**
   * Taken out of #unrecorded (an ack, or a `sent` record) since the running claim began: a claim
   * that committed before that record still returns them, and they must not go out again.
   */
  readonly #recordedSinceClaim = new Set<string>();
  #claiming = false;
  #recordTimer: ReturnType<typeof setTimeout> | null = null;
  /** Records being written now. */
  readonly #writing = new Set<Promise<unknown>>();

  constructor(private readonly host: DeliveryHost) {}

  /** Whether a drain (or a push) is running. */
  get busy(): boolean {
    return this.#draining !== null;
  }

  wasSent(commandId: string): boolean {
    return this.#recentlySent.has(commandId);
  }

  /**
   * Whether a command created behind `olderPending` may be pushed at once: only if every one of
   * them was pushed on this socket already (the agent's FIFO holds), and they are not a backlog.
   */
  canPushBehind(olderPending: readonly string[]): boolean {
    return olderPending.length < OLDER_PENDING_LIMIT && olderPending.every((id) => this.#unrecorded.has(id));
  }

  /** Sends pending commands oldest first until none are left; one drain at a time. */
  drain(agentId: string): Promise<number> {
    if (this.#draining) {
      this.#drainAgain = true;
      return this.#draining;
    }
    return this.#run(async () => {
      let sent = 0;
      do {
        this.#drainAgain = false;
        sent += await this.#drainOnce(agentId);
      } while (this.#drainAgain);
      return sent;
    });
  }

  /**
   * Sends `cmd` on `ws`; its record waits for the ack (see the header). Registered as the running
   * drain, so a drain requested meanwhile waits and cannot claim and send it again.
   */
  push(agentId: string, ws: WebSocket, cmd: PushableCommand): Promise<number> {
    return this.#run(async () => {
      let sent = 0;
      try {
        ws.send(encodeCommandFrame(cmd));
        this.#remember(cmd.commandId);
        this.#unrecorded.add(cmd.commandId);
        this.#recordTimer ??= setTimeout(() => {
          this.#recordTimer = null;
          void this.recordPushed(agentId);
        }, RECORD_DELAY_MS);
        sent = 1;
      } catch {
        // The socket went away before the send: the command is still pending.
      }
      while (this.#drainAgain) {
        this.#drainAgain = false;
        sent += await this.#drainOnce(agentId);
      }
      return sent;
    });
  }

  /**
   * Records every pushed, unrecorded command as `sent` now, in one statement (guarded: only those
   * still pending). Never throws: on failure they stay pending and known here, and the next drain
   * (a retry, the sweep) records them when it claims them.
   */
  async recordPushed(agentId: string): Promise<void> {
    await this.#recordAllPushed(agentId);
  }

  /**
   * recordPushed for an answer that must find its command recorded (a docker agent's failure is
   * matched only among commands recorded `sent`): throws what the record failed with if a retry
   * can go through (an outage, a rollback), for the caller to keep the answer until it does.
   * A record Postgres refuses outright would be refused again: the answer goes on without it.
   */
  async recordPushedForAnswer(agentId: string): Promise<void> {
    const failure = await this.#recordAllPushed(agentId);
    if (failure && (isDatabaseUnavailable(failure.err) || retryableRollback(failure.err))) throw failure.err;
  }

  #recordAllPushed(agentId: string): Promise<RecordFailure | undefined> {
    if (this.#recordTimer) clearTimeout(this.#recordTimer);
    this.#recordTimer = null;
    return this.#record(agentId, [...this.#unrecorded]);
  }

  /** Records `commandId` as `sent` now if it is waiting for its record (see AgentObject #apply). */
  async recordOne(agentId: string, commandId: string): Promise<void> {
    if (this.#unrecorded.has(commandId)) await this.#record(agentId, [commandId]);
  }

  /** The agent's answer naming `commandId` is stored: that recorded its delivery too. */
  answered(commandId: string): void {
    this.#recorded(commandId);
  }

  /**
   * The socket changed or closed: what was pushed on it and never recorded is still pending, and
   * the next socket's drain sends it again.
   */
  forgetPushed(): void {
    this.#unrecorded.clear();
    this.#recordedSinceClaim.clear();
    if (this.#recordTimer) clearTimeout(this.#recordTimer);
    this.#recordTimer = null;
  }

  #run(work: () => Promise<number>): Promise<number> {
    this.#draining = (async () => {
      try {
        return await work();
      } finally {
        this.#draining = null;
      }
    })();
    return this.#draining;
  }

  async #drainOnce(agentId: string): Promise<number> {
    const db = this.host.db();
    let sent = 0;
    let claimFailed = false;
    let releaseFailed = false;
    const release = async (ids: string[]): Promise<void> => {
      try {
        await commandRelease(db, ids);
      } catch (err) {
        releaseFailed = true;
        throw err;
      }
    };
    try {
      for (;;) {
        const ws = this.host.socket();
        if (!ws) return sent;
        this.#recordedSinceClaim.clear();
        this.#claiming = true;
        let batch: ClaimedCommand[];
        try {
          batch = await this.host.claim(db, agentId, CLAIM_BATCH);
        } catch (err) {
          claimFailed = true;
          throw err;
        } finally {
          this.#claiming = false;
        }
        if (this.host.socket() !== ws) {
          // The socket was replaced (or closed) while the claim was in flight. The batch goes back
          // to pending: the next socket's connect work re-queues what this one left unacknowledged
          // and claims it all again, so these go out once, behind those older ones.
          await release(batch.map((c) => c.commandId));
          return sent;
        }
        for (const [i, cmd] of batch.entries()) {
          // Pushed on this socket already: the claim was its record, or its ack raced the claim.
          if (this.#recorded(cmd.commandId) || this.#recordedSinceClaim.has(cmd.commandId)) continue;
          try {
            ws.send(encodeCommandFrame(cmd)); // one JSON object per message (checklist 12)
            this.#remember(cmd.commandId);
            sent++;
          } catch {
            // The socket went away mid-batch: the rest go back to pending for the next connect.
            await release(batch.slice(i).map((c) => c.commandId));
            return sent;
          }
        }
        if (batch.length < CLAIM_BATCH) {
          this.host.onEmpty();
          return sent;
        }
      }
    } catch (err) {
      // Nothing is lost: unsent commands are still pending in Postgres, or `sent` by a claim
      // whose answer was lost or left `sent` by a release that failed, which the host re-queues.
      await this.host.onFailure(err, agentId, releaseFailed || (claimFailed && !isRefusedByPostgres(err)));
      return sent;
    }
  }

  /** Never throws (see recordPushed): a failure is logged, and answered. */
  #record(agentId: string, ids: string[]): Promise<RecordFailure | undefined> {
    if (ids.length === 0) return Promise.resolve(undefined);
    const write: Promise<RecordFailure | undefined> = this.#write(agentId, ids).finally(() => this.#writing.delete(write));
    this.#writing.add(write);
    return write;
  }

  /**
   * Settles once the records being written now have, or after `timeoutMs`. A new socket's connect
   * work waits for them (see AgentObject): it re-queues what the previous socket left
   * unacknowledged, and a record committing after it would leave those commands `sent` to a
   * socket that is gone, to be overtaken by newer ones. Bounded, so a write that never answers
   * cannot hold the new socket's queue; such a command waits for its lease, as before.
   */
  async recordsWritten(timeoutMs: number): Promise<void> {
    if (this.#writing.size === 0) return;
    let timedOut!: () => void;
    const timeout = new Promise<void>((resolve) => (timedOut = resolve));
    const timer = setTimeout(timedOut, timeoutMs);
    await Promise.race([Promise.all(this.#writing), timeout]);
    clearTimeout(timer);
  }

  async #write(agentId: string, ids: string[]): Promise<RecordFailure | undefined> {
    try {
      await commandMarkSent(this.host.db(), ids, this.host.policy());
      for (const id of ids) this.#recorded(id);
      return undefined;
    } catch (err) {
      this.host.log(agentId).warn("AgentObject could not record pushed commands as sent", { err, count: ids.length });
      return { err };
    }
  }

  /** Whether `commandId` was waiting for its record; it no longer is. */
  #recorded(commandId: string): boolean {
    if (!this.#unrecorded.delete(commandId)) return false;
    if (this.#claiming) this.#recordedSinceClaim.add(commandId);
    if (this.#unrecorded.size === 0 && this.#recordTimer) {
      clearTimeout(this.#recordTimer);
      this.#recordTimer = null;
    }
    return true;
  }

  #remember(commandId: string): void {
    if (this.#recentlySent.size >= RECENTLY_SENT_LIMIT) this.#recentlySent.clear();
    this.#recentlySent.add(commandId);
  }
}
