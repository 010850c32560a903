/**
 * Finished commands are kept for the retention period, so the admin command list is paged as the
 * session list is: newest first, at most `limit` (100 by default) to a page, the next page asked
 * for with `after` = the previous page's `next`. Pages neither repeat nor skip a command, commands
 * created in the same instant included (insertion order breaks the tie); a command whose
 * `created_at` an update set NULL comes last (an insert cannot leave it NULL: migration 0016).
 * `next` marks a place in the list, not a command: a retry moves its command to the front (its
 * `created_at` becomes now), and a page that followed the moved command's new place repeated the
 * pages already read.
 */
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { makeAgent, query } from "../helpers/db";
import { call, callJson, tokenFor } from "../helpers/http";

type Page = { commands: { commandId: string; status: string }[]; total: number; next?: string };

describe("the admin command list", () => {
  let admin: string;
  let agentId: string;
  beforeAll(async () => {
    admin = await tokenFor("root", { admin: true });
    ({ agentId } = await makeAgent());
    // Inserted oldest first; c-3 and c-4 in the same instant (c-4 second), c-0's time set NULL after.
    await query(sql`insert into agent_commands (command_id, agent_id, action, status, created_at) values
      ('c-0', ${agentId}, 'stop_session', 'completed', now() - interval '10 minutes'),
      ('c-1', ${agentId}, 'start_session', 'completed', now() - interval '5 minutes'),
      ('c-2', ${agentId}, 'stop_session', 'failed', now() - interval '4 minutes'),
      ('c-3', ${agentId}, 'start_session', 'completed', now() - interval '3 minutes'),
      ('c-4', ${agentId}, 'stop_session', 'completed', now() - interval '3 minutes'),
      ('c-5', ${agentId}, 'start_session', 'failed', now() - interval '1 minute')`);
    await query(sql`update agent_commands set created_at = null where command_id = 'c-0'`);
  });

  it("pages newest first without repeating or skipping, and says when a next page may follow", async () => {
    const seen: string[] = [];
    let after: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const path = `/api/v1/admin/commands?agent_id=${agentId}&limit=2${after ? `&after=${after}` : ""}`;
      const page = await callJson<Page>("GET", path, 200, { token: admin });
      seen.push(...page.commands.map((c) => c.commandId));
      expect(page.total).toBe(page.commands.length);
      if (!page.next) break;
      after = encodeURIComponent(page.next);
    }
    expect(seen).toEqual(["c-5", "c-4", "c-3", "c-2", "c-1", "c-0"]);
  });

  it("pages within a status", async () => {
    const first = await callJson<Page>("GET", `/api/v1/admin/commands?agent_id=${agentId}&status=completed&limit=2`, 200, { token: admin });
    expect(first.commands.map((c) => c.commandId)).toEqual(["c-4", "c-3"]);
    const second = await callJson<Page>("GET", `/api/v1/admin/commands?agent_id=${agentId}&status=completed&limit=2&after=${encodeURIComponent(first.next!)}`, 200, {
      token: admin,
    });
    expect(second.commands.map((c) => c.commandId)).toEqual(["c-1", "c-0"]);
  });

  it("has no next on a page that is not full", async () => {
    const all = await callJson<Page>("GET", `/api/v1/admin/commands?agent_id=${agentId}`, 200, { token: admin });
    expect(all.total).toBe(6);
    expect(all.next).toBeUndefined();
  });

  it("refuses an after that no page gave with 400", async () => {
    for (const after of ["no-such-command", "c-1", "2026-12-07T20:53:14Z~1", "-infinity~x", "2026-12-07T20:53:14.123456Z~99999999999999999999"]) {
      const refused = await call("GET", `/api/v1/admin/commands?after=${encodeURIComponent(after)}`, { token: admin });
      expect(refused.status, after).toBe(400);
      expect(await refused.json()).toMatchObject({ error: "Invalid cursor" });
    }
  });
});

describe("the admin command list's next page, after a command on the page before was retried", () => {
  it("goes on from where that page ended, without repeating it", async () => {
    const admin = await tokenFor("root", { admin: true });
    const { agentId } = await makeAgent();
    await query(sql`insert into agent_commands (command_id, agent_id, action, status, created_at) values
      ('r-0', ${agentId}, 'stop_session', 'completed', now() - interval '5 minutes'),
      ('r-1', ${agentId}, 'start_session', 'failed', now() - interval '4 minutes'),
      ('r-2', ${agentId}, 'stop_session', 'completed', now() - interval '3 minutes'),
      ('r-3', ${agentId}, 'start_session', 'completed', now() - interval '2 minutes')`);
    const first = await callJson<Page>("GET", `/api/v1/admin/commands?agent_id=${agentId}&limit=3`, 200, { token: admin });
    expect(first.commands.map((c) => c.commandId)).toEqual(["r-3", "r-2", "r-1"]);
    await callJson("POST", "/api/v1/admin/commands/r-1/retry", 200, { token: admin });
    const second = await callJson<Page>("GET", `/api/v1/admin/commands?agent_id=${agentId}&limit=3&after=${encodeURIComponent(first.next!)}`, 200, {
      token: admin,
    });
    expect(second.commands.map((c) => c.commandId)).toEqual(["r-0"]);
    // A new scan sees the retried command first, as its agent's newest.
    const again = await callJson<Page>("GET", `/api/v1/admin/commands?agent_id=${agentId}&limit=1`, 200, { token: admin });
    expect(again.commands.map((c) => c.commandId)).toEqual(["r-1"]);
  });
});
