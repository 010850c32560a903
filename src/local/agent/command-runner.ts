/**
 * Serial command execution. The real agents handle one command at a time in arrival order, so
 * the control plane's ordering assumptions (e.g. stop after start) hold; this queue does the
 * same, and survives reconnects so work in progress finishes on the next connection.
 */
import { sleep } from "./backoff";
import type { CommandLedger } from "./command-ledger";
import { frameFields } from "./dialect";
import type { Command, CommandContext, Dialect, OutboundFrame } from "./dialect";
import type { CommandDisposition } from "./options";

/** What a {@link CommandRunner} needs from its agent. */
export interface CommandRunnerDeps {
  dialect: Dialect;
  ledger: CommandLedger;
  /** Recognise repeated command ids (see AgentConfig.dedupe); otherwise every frame runs. */
  dedupe: boolean;
  /** Simulated work between ack (if the dialect sends one) and result. */
  workMs: number;
  ctx: CommandContext;
  /** Aborting drops the queue and cuts the current work short without a result. */
  signal: AbortSignal;
  /** Writes a frame if connected; returns false if it had to be dropped. */
  send(frame: OutboundFrame): boolean;
  log(message: string): void;
  onCommand?: (command: Command, disposition: CommandDisposition) => void;
  onCommandDone?: (command: Command, final: OutboundFrame) => void;
}

/** Counters a test can assert on. */
export interface CommandCounts {
  /** Command frames received, repeats included. */
  received: number;
  /** Repeats of ids received before (finished or still queued), run again or not (see dedupe). */
  duplicates: number;
  /** Commands whose processing started (ack sent or attempted, for dialects that ack). */
  started: number;
  /** Commands that ended in success (k8s `complete`, docker `command_response` with success). */
  completed: number;
  /** Commands that ended otherwise (`failed`, `command_error`, unsuccessful `command_response`). */
  failed: number;
}

/** Queues commands and runs them one at a time. */
export class CommandRunner {
  /** Sessions started and not stopped; reported in heartbeats. */
  activeSessions = 0;
  readonly counts: CommandCounts = { received: 0, duplicates: 0, started: 0, completed: 0, failed: 0 };
  private readonly queue: Command[] = [];
  private running: Promise<void> | null = null;

  constructor(private readonly deps: CommandRunnerDeps) {}

  /**
   * Accepts one command from the server. A repeat runs again, as on the real agents, unless
   * `dedupe`: then it is answered from the ledger (finished) or dropped (still queued).
   */
  receive(command: Command): CommandDisposition {
    const { ledger, log } = this.deps;
    this.counts.received++;
    const entry = ledger.lookup(command.commandId);
    const label = `command ${command.commandId} ${command.action}`;
    let disposition: CommandDisposition;
    if (!this.deps.dedupe) {
      if (entry.status !== "new") {
        this.counts.duplicates++;
        log(`${label} (repeat) → runs again, as the real agents do`);
      }
      disposition = entry.status === "new" ? "new" : "repeat_run";
      ledger.begin(command.commandId);
      this.queue.push(command);
      this.kick();
    } else if (entry.status === "finished") {
      disposition = "duplicate_finished";
      this.counts.duplicates++;
      this.deps.send(entry.final);
      log(`${label} (repeat) → resent ${entry.final.type}`);
    } else if (entry.status === "pending") {
      disposition = "duplicate_pending";
      this.counts.duplicates++;
      log(`${label} (repeat, already queued) → ignored`);
    } else {
      disposition = "new";
      ledger.begin(command.commandId);
      this.queue.push(command);
      this.kick();
    }
    this.deps.onCommand?.(command, disposition);
    return disposition;
  }

  /** Commands waiting behind the one in progress. */
  get queued(): number {
    return this.queue.length;
  }

  /** Resolves once the queue is empty and nothing is in progress. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private kick(): void {
    if (this.running) return;
    this.running = this.drain().finally(() => {
      this.running = null;
      // Covers a command queued after the loop saw an empty queue but before it settled.
      if (this.queue.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    const { signal, ledger } = this.deps;
    for (let command = this.queue.shift(); command; command = this.queue.shift()) {
      if (signal.aborted) {
        ledger.abandon(command.commandId);
        continue;
      }
      await this.process(command);
    }
  }

  private async process(command: Command): Promise<void> {
    const { dialect, ctx, signal, log, ledger } = this.deps;
    const label = `command ${command.commandId} ${command.action}`;
    this.counts.started++;
    const ack = dialect.ackFrame(command.commandId, ctx.now());
    if (ack) {
      this.deps.send(ack);
      log(`${label} → ack`);
    }
    await sleep(this.deps.workMs, signal);
    if (signal.aborted) {
      ledger.abandon(command.commandId);
      return;
    }

    let frames: OutboundFrame[];
    let final: OutboundFrame;
    let ok: boolean;
    try {
      const outcome = dialect.handleCommand(command, ctx);
      frames = outcome.frames;
      final = outcome.final;
      ok = outcome.ok;
      this.activeSessions = Math.max(0, this.activeSessions + outcome.sessionDelta);
    } catch (err) {
      // A bug in a handler must not wedge the queue; report it as the command's failure.
      final = dialect.failedFrame(command.commandId, `agent error: ${String(err)}`, ctx.now());
      frames = [final];
      ok = false;
    }
    for (const frame of frames) {
      const sent = this.deps.send(frame);
      log(`${label} → ${describe(frame)}${sent ? "" : " (not connected: dropped)"}`);
    }
    ledger.finish(command.commandId, final);
    if (ok) this.counts.completed++;
    else this.counts.failed++;
    this.deps.onCommandDone?.(command, final);
  }
}

function describe(frame: OutboundFrame): string {
  const fields = frameFields(frame);
  if (frame.type === "failed" || frame.type === "command_error") return `${frame.type}: ${String(fields["error"])}`;
  if (frame.type === "status") return `status ${String(fields["state"])}`;
  if (frame.type === "command_response") {
    return fields["success"] === true ? `command_response ${String(fields["status"])}` : `command_response failed: ${String(fields["error"])}`;
  }
  return frame.type;
}
