/**
 * A drain's claim that Postgres committed but whose answer never came back (the object's
 * statement timeout ended the wait) leaves its commands `sent` yet unsent. A newer command must
 * not overtake them: the next claim re-queues the agent's unacknowledged commands first, as a new
 * socket's connect work does, and sends them oldest first. The local SQL endpoint runs the claim
 * and withholds its answer (`stack.withholdAnswers`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commandIds, openRawAgent } from "./helpers/raw-agent";
import type { RawAgent } from "./helpers/raw-agent";
import { agentOnline, eventually, startStack } from "./helpers/stack";
import type { Stack } from "./helpers/stack";
import { captureWorkerLogs } from "./helpers/worker-logs";
import type { WorkerLogCapture } from "./helpers/worker-logs";

/** A plain claim (a drain's); a new socket's connect work sends its claim behind a re-queue. */
const isClaim = (query: string) => query.trimStart().startsWith('with "claimed" as');

describe("a claim whose answer is lost", () => {
  let stack: Stack;
  let logs: WorkerLogCapture;
  let raw: RawAgent;
  const agentId = "lost-claim";

  beforeAll(async () => {
    // A short statement timeout, so the withheld claim fails in seconds.
    stack = await startStack({ vars: { DB_CONNECT_TIMEOUT_SECONDS: "3", DB_STATEMENT_TIMEOUT_SECONDS: "3" } });
    logs = captureWorkerLogs();
    const key = await stack.makeAgent(agentId);
    raw = await openRawAgent(stack.wsUrl, agentId, key);
    await agentOnline(stack, agentId);
  }, 120_000);
  afterAll(async () => {
    stack?.withholdAnswers(null);
    await raw?.close();
    logs?.stop();
    await stack?.stop();
  });

  async function status(commandId: string): Promise<string | undefined> {
    const { rows } = await stack.sql.query(`select status from agent_commands where command_id = $1`, [commandId]);
    return rows[0]?.status;
  }

  it("is not overtaken by a newer command: both arrive, oldest first", async () => {
    // Old enough for the sweep, which asks the agent's object to drain.
    await stack.sql.query(
      `insert into agent_commands (command_id, agent_id, action, payload, created_at)
       values ('cmd-older', $1, 'stop_session', '{"sessionId":"s-older"}', now() - interval '1 minute')`,
      [agentId],
    );
    stack.withholdAnswers(isClaim);
    await stack.worker.sweep();
    await eventually(
      "the drain failed on the withheld claim",
      async () => (logs.find((l) => l["agentId"] === agentId && l.msg === "AgentObject drain failed; will retry") ? true : undefined),
      15_000,
    );
    expect(await status("cmd-older")).toBe("sent"); // committed, though the object never heard
    expect(commandIds(raw)).toEqual([]);
    stack.withholdAnswers(null);

    const admin = await stack.token("root", true);
    const newer = await stack.api("POST", `/api/v1/admin/agents/${agentId}/command`, {
      token: admin,
      body: { action: "stop_session", sessionId: "s-newer" },
    });
    expect(newer.status).toBe(201);
    const newerId = String(newer.body.commandId);
    // Well inside the older command's 60 s ack lease, after which it would be re-delivered anyway.
    await eventually("both commands received", async () => (commandIds(raw).length >= 2 ? true : undefined), 15_000);
    expect(commandIds(raw).slice(0, 2)).toEqual(["cmd-older", newerId]);
  }, 60_000);
});
