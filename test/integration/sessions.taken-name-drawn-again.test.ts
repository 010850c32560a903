/**
 * A session's name is `<user>-<template>-<8 hex>` (spec §5.3): 32 random bits per user and
 * template. A create whose name is taken draws another and succeeds; inside an Idempotency-Key's
 * transaction the collision aborts it with a 503 to retry, having written nothing. Long user and
 * template names are cut so the name fits. A trigger makes the first insert collide.
 */
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTemplate, query } from "../helpers/db";
import { call, tokenFor } from "../helpers/http";
import { agentReadyFor } from "../helpers/ws";
import type { AgentSocket } from "../helpers/ws";

const TEMPLATE = "collide-desk";

async function collideOnceFor(user: string): Promise<void> {
  const seq = `collide_${user.replaceAll("-", "_")}`;
  await query(sql.raw(`create sequence ${seq}`));
  await query(sql.raw(`create or replace function ${seq}() returns trigger language plpgsql as $$
    begin
      if nextval('${seq}') = 1 then
        raise exception 'duplicate key value violates unique constraint "sessions_pkey"' using errcode = '23505', constraint = 'sessions_pkey';
      end if;
      return new;
    end $$`));
  await query(sql.raw(`create trigger ${seq} before insert on sessions for each row when (new.user_id = '${user}') execute function ${seq}()`));
}

async function sessionsOf(user: string): Promise<string[]> {
  return (await query<{ id: string }>(sql`select id from sessions where user_id = ${user}`)).map((r) => r.id);
}

describe("a session name already taken", () => {
  let socket: AgentSocket;
  beforeAll(async () => {
    ({ socket } = await agentReadyFor(TEMPLATE));
  });
  afterAll(async () => {
    for (const name of ["collide_dana", "collide_dana_key"]) {
      await query(sql.raw(`drop trigger if exists ${name} on sessions`));
      await query(sql.raw(`drop function if exists ${name}()`));
      await query(sql.raw(`drop sequence if exists ${name}`));
    }
    socket.close();
  });

  it("is drawn again: the create succeeds under another name", async () => {
    await collideOnceFor("dana");
    const res = await call("POST", "/api/v1/sessions", { token: await tokenFor("dana"), body: { user: "dana", template: TEMPLATE } });
    expect(res.status).toBe(202);
    const { name } = (await res.json()) as { name: string };
    expect(await sessionsOf("dana")).toEqual([name]);
  });

  it("with an Idempotency-Key answers 503 Session name taken and writes nothing", async () => {
    await collideOnceFor("dana-key");
    const res = await call("POST", "/api/v1/sessions", {
      token: await tokenFor("dana-key"),
      body: { user: "dana-key", template: TEMPLATE },
      headers: { "Idempotency-Key": "collide-1" },
    });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: "Session name taken" });
    expect(await sessionsOf("dana-key")).toEqual([]);
  });

  it("is a Kubernetes Service name when the user and template names are long", async () => {
    const template = `t${"x".repeat(250)}`;
    const user = `u${"y".repeat(99)}`; // the longest user the API takes
    await makeTemplate(template);
    const res = await call("POST", "/api/v1/sessions", { token: await tokenFor(user), body: { user, template } });
    expect(res.status).toBe(202);
    const { name } = (await res.json()) as { name: string };
    expect(name).toMatch(/^uy{24}-tx{24}-[0-9a-f]{8}$/);
  });
});
