/**
 * Sending an agent's commands over its socket: oldest first, one drain at a time, and a just
 * created command pushed before it is recorded. The part of AgentObject that claims, sends and
 * marks; used only by it. Covered by test/conformance/e-dispatch.test.ts and the fault tests.
 */
import type { Db } from "../db/client";
import { commandClaimPending, commandMarkSent, commandRelease } from "../db/queries/commands";
import type { DeliveryPolicy } from "../lib/delivery-policy";
import type { Logger } from "../lib/log";
import { encodeCommandFrame } from "./protocol";

/** A just-created command the API hands over so the DO can push it without reading it back. */
export type PushableCommand = { commandId: string; action: string; payload: unknown };

/** What the delivery needs from its Durable Object. */
export type DeliveryHost = {
  /** The agent's open socket, or null when it has none. */
  socket(): WebSocket | null;
  db(): Db;
  policy(): DeliveryPolicy;
  log(agentId: string): Logger;
  /** Runs at the start of every drain pass, before anything is claimed (the DO's connect work). */
  beforeClaim(db: Db, agentId: string): Promise<void>;
  /** A pass found nothing more to send. */
  onEmpty(): void;
  /** A pass failed; what it did not send is still pending in Postgres. */
  onFailure(err: unknown, agentId: string): Promise<void>;
};

/** Resolves in a later turn of the event loop, after the runtime has done the I/O queued so far. */
const nextTurn = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

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

  constructor(private readonly host: DeliveryHost) {}

  /** Whether a drain (or a push) is running. */
  get busy(): boolean {
    return this.#draining !== null;
  }

  wasSent(commandId: string): boolean {
    return this.#recentlySent.has(commandId);
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
   * Sends `cmd` on `ws`, then records it as sent (guarded: only if still pending). Registered as
   * the running drain, so a drain requested meanwhile waits and cannot claim and send it again.
   * If the record fails, the command stays pending and is sent again later: at least once.
   */
  push(agentId: string, ws: WebSocket, cmd: PushableCommand): Promise<number> {
    return this.#run(async () => {
      let sent = 0;
      try {
        ws.send(encodeCommandFrame(cmd));
        this.#remember(cmd.commandId);
        sent = 1;
        // workerd writes the frame only when this turn of the event loop ends: preparing the
        // record in the same turn held every pushed frame back by ~0.5 ms (bench, p50).
        await nextTurn();
        try {
          await commandMarkSent(this.host.db(), cmd.commandId, this.host.policy());
        } catch (err) {
          this.host.log(agentId).warn("AgentObject could not record a pushed command as sent", { err });
        }
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
    try {
      await this.host.beforeClaim(db, agentId);
      for (;;) {
        if (!this.host.socket()) return sent;
        const batch = await commandClaimPending(db, agentId, CLAIM_BATCH, this.host.policy());
        for (const [i, cmd] of batch.entries()) {
          const ws = this.host.socket();
          try {
            if (!ws) throw new Error("socket gone");
            ws.send(encodeCommandFrame(cmd)); // one JSON object per message (checklist 12)
            this.#remember(cmd.commandId);
            sent++;
          } catch {
            // The socket went away mid-batch: the rest go back to pending for the next connect.
            await commandRelease(db, batch.slice(i).map((c) => c.commandId));
            return sent;
          }
        }
        if (batch.length < CLAIM_BATCH) {
          this.host.onEmpty();
          return sent;
        }
      }
    } catch (err) {
      // Nothing is lost: unsent commands are still pending in Postgres.
      await this.host.onFailure(err, agentId);
      return sent;
    }
  }

  #remember(commandId: string): void {
    if (this.#recentlySent.size >= RECENTLY_SENT_LIMIT) this.#recentlySent.clear();
    this.#recentlySent.add(commandId);
  }
}
