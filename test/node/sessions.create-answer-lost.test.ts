/**
 * A session create (or an admin command) whose statement Postgres ran but whose answer never came back (the Worker's
 * statement timeout ended the wait) may have created the session. The 503 says so: `outcome:
 * "unknown"` and the session's id, so the client can look it up before creating another, where
 * an outage's 503 (nothing sent) says to retry. So does a lost connection or a 5xx without a
 * SQLSTATE (errors.ts, isOutcomeUnknown; test/unit/errors.test.ts). The local SQL endpoint runs the create and
 * withholds its answer (`stack.withholdAnswers`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openRawAgent } from "./helpers/raw-agent";
import type { RawAgent } from "./helpers/raw-agent";
import { agentOnline, startStack } from "./helpers/stack";
import type { Stack } from "./helpers/stack";

const isCreate = (query: string) => query.includes("create_session_with_command");

describe("a session create whose answer is lost", () => {
  let stack: Stack;
  let raw: RawAgent;
  const agentId = "lost-create";

  beforeAll(async () => {
    stack = await startStack({ vars: { DB_CONNECT_TIMEOUT_SECONDS: "3", DB_STATEMENT_TIMEOUT_SECONDS: "3" } });
    await stack.sql.query(`insert into templates (name, manifest) values ('firefox-browser', '{"spec":{"baseImage":"firefox"}}')`);
    raw = await openRawAgent(stack.wsUrl, agentId, await stack.makeAgent(agentId));
    await agentOnline(stack, agentId);
  }, 120_000);
  afterAll(async () => {
    stack?.withholdAnswers(null);
    await raw?.close();
    await stack?.stop();
  });

  it("answers 503 with outcome unknown and the session's id, which then exists", async () => {
    const token = await stack.token("lena");
    stack.withholdAnswers(isCreate);
    const res = await stack.api("POST", "/api/v1/sessions", { token, body: { user: "lena", template: "firefox-browser" } });
    stack.withholdAnswers(null);
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ code: "unavailable", outcome: "unknown", sessionId: expect.stringMatching(/^lena-firefox-browser-/) });
    expect(String(res.body.message)).toMatch(/may have been created/);

    const sessionId = String(res.body.sessionId);
    const { rows } = await stack.sql.query(`select state from sessions where id = $1`, [sessionId]);
    expect(rows[0]?.state).toBe("pending");
    const found = await stack.api("GET", `/api/v1/sessions/${sessionId}`, { token });
    expect(found.status).toBe(200);
  }, 60_000);

  it("answers an admin command the same way: 503 with outcome unknown and the command's id, which then exists", async () => {
    const admin = await stack.token("root", true);
    stack.withholdAnswers((query) => query.includes('insert into "agent_commands"'));
    const res = await stack.api("POST", `/api/v1/admin/agents/${agentId}/command`, {
      token: admin,
      body: { action: "stop_session", sessionId: "s-withheld" },
    });
    stack.withholdAnswers(null);
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ code: "unavailable", outcome: "unknown", commandId: expect.stringMatching(/^cmd-/) });
    const { rows } = await stack.sql.query(`select command_id from agent_commands where payload->>'sessionId' = 's-withheld'`);
    expect(rows.map((r) => r.command_id)).toEqual([res.body.commandId]);
  }, 60_000);
});
