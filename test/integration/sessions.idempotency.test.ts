import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { query } from "../helpers/db";
import type { TestAgent } from "../helpers/db";
import { call, tokenFor } from "../helpers/http";
import { agentReadyFor, connectAgent } from "../helpers/ws";
import type { AgentSocket } from "../helpers/ws";

describe("an Idempotency-Key", () => {
  let agent: TestAgent;
  let socket: AgentSocket;
  beforeAll(async () => {
    ({ agent, socket } = await agentReadyFor("desktop"));
  });

  const create = async (key: string, body: unknown = { user: "hank", template: "desktop" }, user = "hank") =>
    call("POST", "/api/v1/sessions", { token: await tokenFor(user), body, headers: { "Idempotency-Key": key } });
  const count = async () =>
    (await query<{ s: number; c: number }>(sql`select (select count(*) from sessions)::int as s, (select count(*) from agent_commands)::int as c`))[0];

  it("makes a repeated session create answer the first response and create nothing", async () => {
    const before = await count();
    const first = await create("key-1");
    expect(first.status).toBe(202);
    const firstBody = await first.json();
    const second = await create("key-1");
    expect(second.status).toBe(202);
    expect(await second.json()).toEqual(firstBody);
    expect(await count()).toEqual({ s: before!.s + 1, c: before!.c + 1 });
  });

  it("creates exactly once when the same request races itself", async () => {
    const before = await count();
    const answers = await Promise.all(Array.from({ length: 5 }, () => create("key-race")));
    const bodies = await Promise.all(answers.map((a) => a.json()));
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202, 202]);
    expect(new Set(bodies.map((b) => (b as { name: string }).name)).size).toBe(1);
    expect(await count()).toEqual({ s: before!.s + 1, c: before!.c + 1 });
  });

  it("refuses reuse with a different body (422) and is scoped per user", async () => {
    expect((await create("key-2")).status).toBe(202);
    const reused = await create("key-2", { user: "hank", template: "desktop", tags: ["other"] });
    expect(reused.status).toBe(422);
    expect(await reused.json()).toMatchObject({ error: "Idempotency-Key reused" });
    expect((await create("key-2", { user: "ivy", template: "desktop" }, "ivy")).status).toBe(202);
  });

  it("stores no failure: a 503 can be retried with the same key once an agent is back", async () => {
    socket.close();
    await expect.poll(async () => (await query<{ status: string }>(sql`select status from agents where agent_id = ${agent.agentId}`))[0]?.status).toBe("offline");
    expect((await create("key-3")).status).toBe(503);
    socket = await connectAgent(agent.agentId, agent.apiKey);
    expect((await create("key-3")).status).toBe(202);
  });

  /** The same admin stop for `sessionId`, under `key`, as the admin `sub`. */
  const adminStop = async (sub: string, sessionId: string, key: string) => {
    const token = await tokenFor(sub, { admin: true });
    return () =>
      call("POST", `/api/v1/admin/agents/${agent.agentId}/command`, {
        token,
        body: { action: "stop_session", sessionId },
        headers: { "Idempotency-Key": key },
      });
  };

  it("works on the admin command endpoint too", async () => {
    const send = await adminStop("root", "idem-s", "admin-key-1");
    const first = await send();
    const second = await send();
    expect([first.status, second.status]).toEqual([201, 201]);
    expect((await second.json() as { commandId: string }).commandId).toBe((await first.json() as { commandId: string }).commandId);
    const [n] = await query<{ n: number }>(sql`select count(*)::int as n from agent_commands where session_id = 'idem-s'`);
    expect(n?.n).toBe(1);
  });

  it("holds for an admin whose user id is as long as a token may make it", async () => {
    // An admin's sub has no length limit; the scope is that sub plus the route.
    const send = await adminStop("a".repeat(300), "idem-long", "admin-key-long");
    const first = await send();
    expect(first.status).toBe(201);
    const second = await send();
    expect(second.status).toBe(201);
    expect(await second.json()).toEqual(await first.json());
    socket.close();
  });
});
