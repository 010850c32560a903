/**
 * Sessions are kept for good, so the list is paged: newest first, at most `limit` (1,000 by
 * default) to a page, the next page asked for with `after` = the previous page's `next` (its last
 * id). Pages neither repeat nor skip a session, sessions created in the same instant included;
 * `state` narrows the list.
 */
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { query } from "../helpers/db";
import { call, callJson, tokenFor } from "../helpers/http";

type Page = { sessions: { name: string; state: string }[]; total: number; next?: string };

describe("the session list", () => {
  let token: string;
  beforeAll(async () => {
    token = await tokenFor("paige");
    // p-1 is the oldest; p-3 and p-4 were created in the same instant.
    await query(sql`insert into sessions (id, user_id, state, created_at) values
      ('p-1', 'paige', 'terminated', now() - interval '5 minutes'),
      ('p-2', 'paige', 'running', now() - interval '4 minutes'),
      ('p-3', 'paige', 'terminated', now() - interval '3 minutes'),
      ('p-4', 'paige', 'running', now() - interval '3 minutes'),
      ('p-5', 'paige', 'running', now() - interval '1 minute'),
      ('not-paige', 'someone', 'running', now())`);
  });

  it("pages newest first without repeating or skipping, and says when a next page may follow", async () => {
    const seen: string[] = [];
    let after: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await callJson<Page>("GET", `/api/v1/sessions?limit=2${after ? `&after=${after}` : ""}`, 200, { token });
      seen.push(...page.sessions.map((s) => s.name));
      expect(page.total).toBe(page.sessions.length);
      if (!page.next) break;
      after = page.next;
    }
    expect(seen).toEqual(["p-5", "p-4", "p-3", "p-2", "p-1"]);
  });

  it("lists everything on one page by default, and narrows by state", async () => {
    const all = await callJson<Page>("GET", "/api/v1/sessions", 200, { token });
    expect(all.sessions.map((s) => s.name)).toEqual(["p-5", "p-4", "p-3", "p-2", "p-1"]);
    expect(all.next).toBeUndefined();
    const running = await callJson<Page>("GET", "/api/v1/sessions?state=running", 200, { token });
    expect(running.sessions.map((s) => s.name)).toEqual(["p-5", "p-4", "p-2"]);
  });

  it("refuses a limit outside 1..1000, and an after naming no session, with 400", async () => {
    for (const limit of ["0", "1001", "x"]) expect((await call("GET", `/api/v1/sessions?limit=${limit}`, { token })).status).toBe(400);
    const unknown = await call("GET", "/api/v1/sessions?after=no-such-session", { token });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ error: "Invalid cursor" });
  });

  it("refuses an after naming another user's session like an unknown one, which tells nothing of it", async () => {
    const theirs = await call("GET", "/api/v1/sessions?after=not-paige", { token });
    expect(theirs.status).toBe(400);
    expect(await theirs.json()).toMatchObject({ error: "Invalid cursor" });
    // An administrator lists every user's sessions, and pages by any of them.
    const admin = await tokenFor("root", { admin: true });
    for (const filter of ["", "&user="]) {
      const page = await callJson<Page>("GET", `/api/v1/sessions?after=not-paige&limit=1${filter}`, 200, { token: admin });
      expect(page.sessions).toHaveLength(1);
    }
  });

  it("lists a session without created_at (an import) last, and pages past it", async () => {
    const ned = await tokenFor("ned");
    await query(sql`insert into sessions (id, user_id, state, created_at) values
      ('n-old', 'ned', 'running', null), ('n-new', 'ned', 'running', now())`);
    const first = await callJson<Page>("GET", "/api/v1/sessions?limit=1", 200, { token: ned });
    expect(first.sessions.map((s) => s.name)).toEqual(["n-new"]);
    const second = await callJson<Page>("GET", `/api/v1/sessions?limit=1&after=${first.next}`, 200, { token: ned });
    expect(second.sessions.map((s) => s.name)).toEqual(["n-old"]);
  });
});
