/**
 * Fault: the agent process dies (no close frame) after it acknowledged a command and before it
 * finished it. The command's run lease runs out, the sweep puts it back to `pending`, and the
 * agent's next life (a new process with the same id and key, remembering nothing) runs it.
 * It must complete exactly once, and nothing else may move.
 */
import { describe, expect, it } from "vitest";
import { ReferenceAgent } from "../../src/local/agent/agent";
import { frameFields } from "../../src/local/agent/dialect";
import type { Command, OutboundFrame } from "../../src/local/agent/dialect";
import { auditViolations, transitions } from "./helpers/command-audit";
import { useLeaseFaultStack } from "./helpers/lease-fault-stack";
import { eventually } from "./helpers/stack";

const AGENT = "killed-after-ack";
/** Short leases so the test does not wait out the production 60 s / 900 s. */
const LEASE_SECONDS = 2;
const FAST = { heartbeatMs: 1000, backoff: { minMs: 50, maxMs: 200 } };

describe("an agent killed between ack and complete", () => {
  const fixture = useLeaseFaultStack(AGENT, LEASE_SECONDS);

  async function row(commandId: string) {
    const { rows } = await fixture.stack.sql.query(`select * from agent_commands where command_id = $1`, [commandId]);
    return rows[0];
  }

  async function insert(commandId: string) {
    await fixture.stack.sql.query(`insert into agent_commands (command_id, agent_id, action, payload) values ($1, $2, 'stop_session', $3)`, [
      commandId,
      AGENT,
      JSON.stringify({ sessionId: `s-${commandId}` }),
    ]);
  }

  /** An agent process whose commands and frames the test watches. */
  function spawn(workMs: number) {
    const seen = { commands: [] as string[], done: [] as { command: Command; final: OutboundFrame }[], sent: [] as OutboundFrame[] };
    const agent = new ReferenceAgent({
      agentId: AGENT,
      apiKey: fixture.apiKey,
      url: fixture.stack.wsUrl,
      workMs,
      ...FAST,
      onCommand: (c) => seen.commands.push(c.commandId),
      onCommandDone: (command, final) => seen.done.push({ command, final }),
      onFrameSent: (frame) => seen.sent.push(frame),
    });
    fixture.agents.push(agent);
    agent.start();
    return { agent, seen };
  }

  it("completes the command exactly once on the agent's next life, and leaves the others alone", async () => {
    // A command that finished before the fault: it must stay exactly as it is.
    await insert("cmd-before");
    const first = spawn(20);
    const before = await eventually("cmd-before completed", async () => {
      const r = await row("cmd-before");
      return r?.status === "completed" ? r : undefined;
    });
    await first.agent.stop();

    // The victim: a long piece of work, so the agent is certainly inside it when it dies.
    await insert("cmd-victim");
    const doomed = spawn(60_000);
    await eventually("the victim's ack sent", async () =>
      doomed.seen.sent.some((f) => f.type === "ack" && frameFields(f)["commandId"] === "cmd-victim") ? true : undefined,
    );
    await eventually("the victim acknowledged in Postgres", async () => ((await row("cmd-victim")).status === "ack" ? true : undefined));
    await doomed.agent.kill();
    expect(doomed.seen.done).toEqual([]); // it died inside the work: no result
    expect(doomed.seen.sent.filter((f) => f.type === "complete" || f.type === "failed")).toEqual([]);

    const reborn = spawn(20);
    await reborn.agent.waitForState("connected");
    const completed = await eventually(
      "the victim completed by the new agent",
      async () => {
        // What the cron would do every minute: expire the run lease, then deliver again.
        await fixture.stack.worker.sweep();
        // The first retry waits a 2.5–5 s backoff (next_attempt_at); skip the wait, not the step.
        await fixture.stack.sql.query(
          `update agent_commands set next_attempt_at = now() where command_id = 'cmd-victim' and status = 'pending' and next_attempt_at > now()`,
        );
        const r = await row("cmd-victim");
        return r.status === "completed" ? r : undefined;
      },
      30_000,
    );

    expect(completed.attempts).toBe(2);
    expect(completed.completed_at).not.toBeNull();
    const finals = reborn.seen.done.filter((d) => d.command.commandId === "cmd-victim");
    expect(finals).toHaveLength(1);
    expect(finals[0]!.final.type).toBe("complete");
    expect(completed.result).toEqual(frameFields(finals[0]!.final)["result"]);
    expect(reborn.seen.commands).toEqual(["cmd-victim"]); // cmd-before was never redelivered

    // Every status change the database made, in order: one lease expiry, one completion.
    expect((await transitions(fixture.stack.sql, ["cmd-victim"])).map((t) => `${t.from}→${t.to}`)).toEqual([
      "pending→sent",
      "sent→ack",
      "ack→pending", // the run lease ran out: the sweep took it back
      "pending→sent",
      "sent→ack",
      "ack→completed",
    ]);
    expect((await transitions(fixture.stack.sql, ["cmd-before"])).map((t) => `${t.from}→${t.to}`)).toEqual([
      "pending→sent",
      "sent→ack",
      "ack→completed",
    ]);

    // More sweeps change nothing: completed stays completed, at the same moment, with the same result.
    await fixture.stack.worker.sweep();
    await fixture.stack.worker.sweep();
    const after = await row("cmd-victim");
    expect(after).toMatchObject({ status: "completed", attempts: 2, result: completed.result });
    expect(after.completed_at).toEqual(completed.completed_at);
    expect(await row("cmd-before")).toMatchObject({ status: "completed", completed_at: before.completed_at, attempts: 1 });
    expect(await auditViolations(fixture.stack.sql)).toEqual([]);
  }, 45_000);
});
