/**
 * Fault: an agent dies abruptly in the middle of a burst of 100 queued commands. Whatever it was
 * sent but never acknowledged goes back to `pending` when its replacement connects; the one it
 * was running waits for its run lease to run out. Every command must complete exactly once in
 * the database, and first deliveries must follow creation order across both agent lives.
 */
import { describe, expect, it } from "vitest";
import { ReferenceAgent } from "../../src/local/agent/agent";
import { frameFields } from "../../src/local/agent/dialect";
import type { OutboundFrame } from "../../src/local/agent/dialect";
import { auditViolations } from "./helpers/command-audit";
import { useLeaseFaultStack } from "./helpers/lease-fault-stack";
import { eventually } from "./helpers/stack";

const AGENT = "burst-agent";
const BURST = 100;
const KILL_AFTER = 30;
const LEASE_SECONDS = 2;

describe(`an agent disconnected mid-burst of ${BURST} commands`, () => {
  const fixture = useLeaseFaultStack(AGENT, LEASE_SECONDS);

  it("completes all of them, each once, first deliveries in creation order", async () => {
    const ids = Array.from({ length: BURST }, (_, i) => `burst-${String(i).padStart(3, "0")}`);
    // Created 1 ms apart, in the order of `ids`: that is the order the agent must see them in.
    await fixture.stack.sql.query(
      `insert into agent_commands (command_id, agent_id, action, payload, created_at)
       select id, $2, 'stop_session', jsonb_build_object('sessionId', 's-' || id), now() - interval '1 minute' + n * interval '1 ms'
       from unnest($1::text[]) with ordinality as t(id, n)`,
      [ids, AGENT],
    );

    /** Per life: commands received as new, commands started (ack sent), commands finished. */
    type Life = { received: string[]; started: string[]; done: string[] };
    const lives: Life[] = [];
    let killed: Promise<void> | undefined;
    const spawn = () => {
      const life: Life = { received: [], started: [], done: [] };
      lives.push(life);
      const agent: ReferenceAgent = new ReferenceAgent({
        agentId: AGENT,
        apiKey: fixture.apiKey,
        url: fixture.stack.wsUrl,
        workMs: 10,
        heartbeatMs: 1000,
        backoff: { minMs: 50, maxMs: 200 },
        onCommand: (c, disposition) => disposition === "new" && life.received.push(c.commandId),
        onFrameSent: (f: OutboundFrame) => f.type === "ack" && life.started.push(String(frameFields(f)["commandId"])),
        onCommandDone: (c) => {
          life.done.push(c.commandId);
          // Die just after the next command started: one is certainly acknowledged and unfinished.
          if (lives.length === 1 && life.done.length === KILL_AFTER) setTimeout(() => (killed = agent.kill()), 5);
        },
      });
      fixture.agents.push(agent);
      agent.start();
      return agent;
    };

    spawn();
    await eventually(`${KILL_AFTER} completions, then the kill`, async () => (killed ? true : undefined));
    await killed;
    const snapshot = await fixture.stack.sql.query(`select status, count(*)::int as n from agent_commands group by status order by status`);
    spawn();

    const rows = await eventually(
      `all ${BURST} completed`,
      async () => {
        await fixture.stack.worker.sweep();
        // Re-queued commands wait a 2.5–5 s backoff (next_attempt_at) first: skip the wait.
        await fixture.stack.sql.query(`update agent_commands set next_attempt_at = now() where status = 'pending' and next_attempt_at > now()`);
        const { rows } = await fixture.stack.sql.query(`select command_id, status, attempts, completed_at from agent_commands order by created_at, seq`);
        return rows.every((r) => r.status === "completed") ? rows : undefined;
      },
      40_000,
    );

    expect(rows.map((r) => r.command_id)).toEqual(ids);
    // Completed exactly once each, by the database's own record of every status change.
    expect(await auditViolations(fixture.stack.sql)).toEqual([]);
    const { rows: completions } = await fixture.stack.sql.query(
      `select count(*)::int as n, count(distinct command_id)::int as distinct_ids from test_command_audit where to_status = 'completed'`,
    );
    expect(completions[0]).toEqual({ n: BURST, distinct_ids: BURST });

    // First deliveries in creation order: each command's first receipt and first start, across
    // both lives in time order (the first life ended before the second began).
    const firstOccurrences = (list: string[]) => [...new Set(list)];
    expect(firstOccurrences(lives.flatMap((l) => l.received))).toEqual(ids);
    expect(firstOccurrences(lives.flatMap((l) => l.started))).toEqual(ids);
    // Every command finished in one of the lives.
    expect(new Set(lives.flatMap((l) => l.done))).toEqual(new Set(ids));

    const [first, second] = lives as [Life, Life];
    const reRun = second.started.filter((id) => first.started.includes(id));
    const attempts = rows.reduce((sum, r) => sum + r.attempts, 0);
    console.log(
      `[burst] ${BURST} commands; first life: received ${first.received.length}, started ${first.started.length}, ` +
        `finished ${first.done.length}; second life: received ${second.received.length}, started ${second.started.length}, ` +
        `finished ${second.done.length}; run again after the kill: ${reRun.length} (${reRun.join(", ")}); ` +
        `deliveries ${attempts} (redeliveries ${attempts - BURST}); at the kill: ` +
        snapshot.rows.map((r) => `${r.status} ${r.n}`).join(", "),
    );
  }, 60_000);
});
