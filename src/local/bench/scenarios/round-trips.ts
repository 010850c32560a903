/**
 * Database cost per operation: committed Postgres transactions (pg_stat_database xact_commit),
 * new Postgres connections (`sessions`) and row writes around a series of isolated operations on an otherwise idle database, divided
 * by the number of operations. Each operation finishes (frame received, or a pause for the DO's
 * work) before the next starts, and nothing else runs meanwhile.
 *
 * Delivery is separated from create by sending an admin command to an offline agent (API only:
 * the DO answers "offline" without touching Postgres) and to an online one (API + the DO's
 * record). A delivery the agent acks at once has no record of its own (the ack writes it): a
 * create acked at once is measured as one operation.
 */
import { RECORD_DELAY_MS } from "../../../agent/record-delay";
import { AgentFleet } from "../agents";
import type { PgCounters, Snapshot } from "../pg-stats";
import { BENCH_TEMPLATE } from "../stack";
import { round } from "../stats";
import { Rendezvous, sleep } from "../util";
import type { BenchContext } from "./common";
import { connectAndWaitOnline, countOnline } from "./common";

export type OperationCost = { operation: string; count: number; xactsPerOp: number; connectionsPerOp: number; rowWritesPerOp: number };

export type RoundTripsResult = {
  reps: number;
  snapshotOverheadXacts: number;
  operations: OperationCost[];
  /** Derived: admin command online − offline. */
  deliveryXacts: number;
  /** Derived: session create minus its delivery. */
  sessionCreateApiXacts: number;
};

/** Time for work the API or DO does after the observable event (waitUntil, frame handling). */
const SETTLE_MS = 120;
/** After a delivery nobody answers: its `sent` record first waits RECORD_DELAY_MS for an ack. */
const UNANSWERED_SETTLE_MS = RECORD_DELAY_MS + SETTLE_MS;

export async function runRoundTrips(ctx: BenchContext, opts: { reps: number }): Promise<RoundTripsResult> {
  const { stack, progress } = ctx;
  const reps = opts.reps;
  const frames = new Rendezvous<string, string>(); // sessionId or commandId → commandId
  const onCommand = (ev: { commandId: string; sessionId: string | undefined }) => {
    frames.arrive(ev.commandId, ev.commandId);
    if (ev.sessionId) frames.arrive(`session:${ev.sessionId}`, ev.commandId);
  };
  const main = new AgentFleet({ wsUrl: stack.wsUrl(), answer: "none", onCommand });
  const transient = new AgentFleet({ wsUrl: stack.wsUrl(), answer: "none" });
  const [online, offline] = await stack.makeAgents("rt", 2);
  const connectCreds = await stack.makeAgents("rt-conn", reps);
  const user = "bench-rt";
  const userToken = await stack.token(user);
  const adminToken = await stack.token("bench-admin", true);
  const operations: OperationCost[] = [];

  // One measured group: snapshot, `count` operations, snapshot. A group's closing snapshot opens
  // the next one unless the bench touched the database in between (`carry` is then cleared).
  let carry: Snapshot | undefined;
  const measure = async (operation: string, count: number, op: (i: number) => Promise<void>, settleMs = SETTLE_MS): Promise<PgCounters> => {
    progress.update(`measuring: ${operation}`);
    const before = carry ?? (await stack.stats.snapshot());
    for (let i = 0; i < count; i++) {
      await op(i);
      await sleep(settleMs);
    }
    const after = await stack.stats.snapshot();
    carry = after;
    const delta = stack.stats.delta(before, after);
    operations.push({
      operation,
      count,
      xactsPerOp: round(delta.xacts / count),
      connectionsPerOp: round(delta.sessions / count),
      rowWritesPerOp: round((delta.inserted + delta.updated + delta.deleted) / count),
    });
    return delta;
  };
  const perOp = (name: string) => operations.find((o) => o.operation === name)?.xactsPerOp ?? Number.NaN;

  try {
    await measure("agent connect (auth, online, drain)", reps, async (i) => {
      await transient.connect([connectCreds[i]!], { concurrency: 1, timeoutMs: 10_000 });
      await sleep(200); // the connect drain runs after the 101
    });
    // All of them close at once; the count is per agent.
    await measure("agent disconnect (offline)", reps, async (i) => {
      if (i === 0) await transient.close();
    });
    carry = undefined; // the set-up below queries the database
    await connectAndWaitOnline(ctx, main, [online!], "rt", { concurrency: 1 });
    if ((await countOnline(ctx, "rt-conn")) !== 0) progress.line("  note: round trips: transient agents still online");
    await sleep(300);

    const commands: string[] = [];
    const createSession = async () => {
      const res = await stack.api("POST", "/api/v1/sessions", { token: userToken, body: { user, template: BENCH_TEMPLATE } });
      if (res.status !== 202) throw new Error(`create answered ${res.status}`);
      return frames.wait(`session:${String(res.body.name)}`, 10_000);
    };
    await measure(
      "session create, agent online (incl. delivery)",
      reps,
      async () => {
        commands.push(await createSession());
      },
      UNANSWERED_SETTLE_MS,
    );
    const adminCommand = async (agentId: string) => {
      const res = await stack.api("POST", `/api/v1/admin/agents/${agentId}/command`, {
        token: adminToken,
        body: { action: "stop_session", sessionId: `rt-${agentId}` },
      });
      if (res.status !== 201) throw new Error(`admin command answered ${res.status}`);
      return String(res.body.commandId);
    };
    await measure("admin command, agent offline (API only)", reps, async () => {
      await adminCommand(offline!.agentId);
    });
    await measure(
      "admin command, agent online (API + delivery)",
      reps,
      async () => {
        commands.push(await frames.wait(await adminCommand(online!.agentId), 10_000));
      },
      UNANSWERED_SETTLE_MS,
    );
    const answer = (type: "ack" | "complete", commandId: string) =>
      main.send(online!.agentId, { type, timestamp: new Date().toISOString(), payload: { commandId, ...(type === "complete" ? { result: {} } : {}) } });
    await measure("session create, acked at once (incl. delivery and ack)", reps, async () => {
      answer("ack", await createSession());
    });
    await measure("ack", reps, async (i) => {
      answer("ack", commands[i]!);
    });
    await measure("complete", reps, async (i) => {
      answer("complete", commands[i]!);
    });
    await measure("heartbeat, first (capacity reported)", 1, async () => {
      main.heartbeat(0);
    });
    await measure("heartbeat, routine", reps, async () => {
      main.heartbeat(0);
    });

    const deliveryXacts = round(perOp("admin command, agent online (API + delivery)") - perOp("admin command, agent offline (API only)"));
    const result: RoundTripsResult = {
      reps,
      snapshotOverheadXacts: stack.stats.overheadXacts,
      operations,
      deliveryXacts,
      sessionCreateApiXacts: round(perOp("session create, agent online (incl. delivery)") - deliveryXacts),
    };
    progress.line(`  round trips: ${describeRoundTrips(result)}`);
    return result;
  } finally {
    await transient.close();
    await main.close();
  }
}

/** The one-line statement the summary prints. */
export function describeRoundTrips(r: RoundTripsResult): string {
  const get = (name: string) => r.operations.find((o) => o.operation.startsWith(name))?.xactsPerOp ?? Number.NaN;
  return (
    `create ${r.sessionCreateApiXacts} + delivery ${r.deliveryXacts} (session create as measured: ${get("session create")}), ` +
    `ack ${get("ack")}, complete ${get("complete")}, a create acked at once ${get("session create, acked")} with its ack, ` +
    `heartbeat ${get("heartbeat, routine")} (first: ${get("heartbeat, first")}), ` +
    `connect ${get("agent connect")} Postgres transactions each`
  );
}
