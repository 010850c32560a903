/**
 * A drain's claim that Postgres refused (an error answer: its transaction rolled back) took
 * nothing, so the next claim has nothing to repair: the commands the agent already got are not
 * re-queued and sent again. (A claim whose answer was lost may have committed, and is repaired:
 * delivery.claim-answer-lost.) The refusal comes from a trigger that rejects one command's claim.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commandIds, openRawAgent } from "./helpers/raw-agent";
import type { RawAgent } from "./helpers/raw-agent";
import { agentOnline, eventually, startStack } from "./helpers/stack";
import type { Stack } from "./helpers/stack";
import { captureWorkerLogs } from "./helpers/worker-logs";
import type { WorkerLogCapture } from "./helpers/worker-logs";

describe("a claim Postgres refused", () => {
  let stack: Stack;
  let logs: WorkerLogCapture;
  let raw: RawAgent;
  let admin: string;
  const agentId = "refused-claim";

  beforeAll(async () => {
    // An ack lease longer than the test: the first command must not be re-sent for its expiry.
    stack = await startStack({ vars: { ACK_LEASE_SECONDS: "600" } });
    logs = captureWorkerLogs();
    const key = await stack.makeAgent(agentId);
    raw = await openRawAgent(stack.wsUrl, agentId, key);
    await agentOnline(stack, agentId);
    admin = await stack.token("root", true);
  }, 120_000);
  afterAll(async () => {
    await stack?.sql.query(`drop trigger if exists refuse_claim on agent_commands`).catch(() => {});
    await raw?.close();
    logs?.stop();
    await stack?.stop();
  });

  async function adminCommand(sessionId: string): Promise<string> {
    const res = await stack.api("POST", `/api/v1/admin/agents/${agentId}/command`, {
      token: admin,
      body: { action: "stop_session", sessionId },
    });
    expect(res.status).toBe(201);
    return String(res.body.commandId);
  }

  it("does not send again what the agent already got", async () => {
    // Received and recorded `sent`, never acknowledged: what a re-queue would send again.
    const first = await adminCommand("s-first");
    await eventually("the first command recorded sent", async () => {
      const { rows } = await stack.sql.query(`select status from agent_commands where command_id = $1`, [first]);
      return rows[0]?.status === "sent" ? true : undefined;
    });
    expect(commandIds(raw)).toEqual([first]);

    await stack.sql.query(`
      create or replace function refuse_claim() returns trigger language plpgsql as $$
      begin raise exception 'claim refused for the test'; end $$;
      create trigger refuse_claim before update on agent_commands for each row
        when (new.command_id = 'cmd-refused' and new.status = 'sent') execute function refuse_claim();`);
    // Old enough for the sweep, which asks the agent's object to drain.
    await stack.sql.query(
      `insert into agent_commands (command_id, agent_id, action, payload, created_at)
       values ('cmd-refused', $1, 'stop_session', '{"sessionId":"s-refused"}', now() - interval '1 minute')`,
      [agentId],
    );
    await stack.worker.sweep();
    const failure = await eventually(
      "the drain failed on the refused claim",
      async () => logs.find((l) => l["agentId"] === agentId && l.msg === "AgentObject drain failed; will retry"),
      15_000,
    );
    expect(failure["strandedSent"]).toBe(false);
    await stack.sql.query(`drop trigger refuse_claim on agent_commands`);

    // The next drain sends the refused command, then a newer one; the first never again.
    await stack.worker.sweep();
    await eventually("the refused command received", async () => (commandIds(raw).includes("cmd-refused") ? true : undefined), 15_000);
    const last = await adminCommand("s-last");
    await eventually("the newest command received", async () => (commandIds(raw).includes(last) ? true : undefined), 15_000);
    expect(commandIds(raw)).toEqual([first, "cmd-refused", last]);
  }, 60_000);
});
