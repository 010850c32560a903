/**
 * An HA deployment of one agent, simulated: N replicas share the agent id, and leader election
 * lets exactly one of them (the active replica) register and hold the socket while the others
 * stand by without making a single call. Killing the active replica (a crash, a node loss)
 * promotes the next one after a takeover delay, as a lease expiring would.
 *
 * Each replica is its own {@link ReferenceAgent}, so a promoted replica has an empty dedup
 * ledger: it does not know which commands the dead one finished, exactly like a real standby.
 * What lives outside the process (the Docker daemon's containers) is shared, as it would be.
 */
import { sleep } from "./backoff";
import { ReferenceAgent } from "./agent";
import { getDialect } from "./dialect";
import type { Dialect } from "./dialect";
import type { AgentOptions } from "./options";

/** How long a standby waits before taking over when {@link ReplicaSetOptions.takeoverMs} is not given. */
export const DEFAULT_TAKEOVER_MS = 1_000;

/** Timing of a {@link ReplicaSet}. */
export interface ReplicaSetOptions {
  /** Between the active replica's death and the next one starting (a lease running out). */
  takeoverMs?: number;
  /** Kill the active replica this often once started; 0 (the default) never does. */
  failoverEveryMs?: number;
}

/** N replicas of one agent, one of them active at a time. */
export class ReplicaSet {
  readonly size: number;
  private readonly replicas: ReferenceAgent[];
  private readonly takeoverMs: number;
  private readonly failoverEveryMs: number;
  /** One instance for all replicas, so they share the simulated platform (see file comment). */
  private readonly dialect: Dialect;
  private readonly abort = new AbortController();
  private current = 0;
  private started = false;
  private failoverTimer: ReturnType<typeof setInterval> | null = null;
  /** The failover (or takeover) in progress; failovers never overlap. */
  private transition: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;

  /**
   * @param options every replica's options (validated by the first replica's constructor)
   * @param n how many replicas (a positive integer; 1 simulates a single pod that restarts)
   */
  constructor(
    private readonly options: AgentOptions,
    n: number,
    setOptions: ReplicaSetOptions = {},
  ) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`replicas must be a positive integer, got ${n}`);
    const takeoverMs = setOptions.takeoverMs ?? DEFAULT_TAKEOVER_MS;
    const failoverEveryMs = setOptions.failoverEveryMs ?? 0;
    if (!(takeoverMs >= 0)) throw new RangeError(`takeoverMs must be >= 0, got ${takeoverMs}`);
    if (!(failoverEveryMs >= 0)) throw new RangeError(`failoverEveryMs must be >= 0, got ${failoverEveryMs}`);
    this.size = n;
    this.takeoverMs = takeoverMs;
    this.failoverEveryMs = failoverEveryMs;
    this.dialect = options.sharedDialect ?? getDialect(options.dialect ?? "k8s");
    this.replicas = Array.from({ length: n }, (_, i) => this.build(i));
  }

  /** The replica holding (or, during a takeover, about to take) the leadership. */
  get active(): ReferenceAgent {
    return this.replica(this.current);
  }

  /** Index of {@link active}. */
  get activeIndex(): number {
    return this.current;
  }

  /** The replica in slot `index`; a killed replica's slot holds its restarted successor. */
  replica(index: number): ReferenceAgent {
    const agent = this.replicas[index];
    if (!agent) throw new RangeError(`no replica ${index} (size ${this.size})`);
    return agent;
  }

  /** Starts replica 0 as the leader (and the periodic failover, if configured); a second call does nothing. */
  start(): void {
    if (this.started || this.stopping) return;
    this.started = true;
    this.log(this.current, `leader of ${this.size}`);
    this.active.start();
    if (this.failoverEveryMs > 0) {
      this.failoverTimer = setInterval(() => void this.failover(), this.failoverEveryMs);
    }
  }

  /**
   * Kills the active replica abruptly (socket cut without a close frame, in-memory state lost),
   * puts a fresh standby in its slot, and after the takeover delay starts the next replica.
   * Resolves once the new leader was started (not connected). A call during a failover joins it.
   */
  failover(): Promise<void> {
    if (!this.started || this.stopping) return Promise.resolve();
    return this.transit(async () => {
      const victim = this.current;
      this.log(victim, "killed (failover)");
      await this.replica(victim).kill();
      await this.promoteAfter(victim);
    });
  }

  /** Stops the active replica cleanly, cancels any takeover; resolves once all replicas ended. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.abort.abort();
      if (this.failoverTimer) clearInterval(this.failoverTimer);
      this.failoverTimer = null;
      await this.transition;
      await Promise.all(this.replicas.map((r) => r.stop()));
    })();
    return this.stopping;
  }

  private transit(work: () => Promise<void>): Promise<void> {
    this.transition ??= work().finally(() => (this.transition = null));
    return this.transition;
  }

  /** Replaces the dead replica in `slot` with a standby and hands leadership to the next slot. */
  private async promoteAfter(slot: number): Promise<void> {
    this.replicas[slot] = this.build(slot);
    this.current = (slot + 1) % this.size;
    await sleep(this.takeoverMs, this.abort.signal);
    if (this.abort.signal.aborted) return;
    this.log(this.current, "took over");
    this.active.start();
  }

  private build(index: number): ReferenceAgent {
    const { log, onStateChange } = this.options;
    const agent: ReferenceAgent = new ReferenceAgent({
      ...this.options,
      sharedDialect: this.dialect,
      log: log && (this.size > 1 ? (line) => log(`[replica ${index}] ${line}`) : log),
      onStateChange: (state, previous) => {
        onStateChange?.(state, previous);
        // A leader that stopped on its own (docker's no-reconnect, a server `shutdown`) gives up
        // its lease: a standby takes over, as leader election would arrange. Without a standby
        // the set stays down, as a lone docker-agent does.
        const standalone = this.size === 1;
        if (state === "stopped" && !standalone && this.replicas[index] === agent && this.current === index && !this.transition) {
          if (!this.abort.signal.aborted) {
            this.log(index, "leader stopped on its own");
            void this.transit(() => this.promoteAfter(index));
          }
        }
      },
    });
    return agent;
  }

  private log(index: number, message: string): void {
    this.options.log?.(`[replica ${index}] [agent ${this.options.agentId}] ${message}`);
  }
}
