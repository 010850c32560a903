/**
 * Finished commands are kept for the retention period, so the admin command list is paged as the
 * session list is: newest first, at most `limit` (100 by default) to a page, the next page asked
 * for with `after` = the previous page's `next`. Pages neither repeat nor skip a command, commands
 * created in the same instant included (insertion order breaks the tie); a command whose
 * `created_at` an update set NULL comes last (an insert cannot leave it NULL: migration 0016).
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
      after = page.next;
    }
    expect(seen).toEqual(["c-5", "c-4", "c-3", "c-2", "c-1", "c-0"]);
  });

  it("pages within a status", async () => {
    const first = await callJson<Page>("GET", `/api/v1/admin/commands?agent_id=${agentId}&status=completed&limit=2`, 200, { token: admin });
    expect(first.commands.map((c) => c.commandId)).toEqual(["c-4", "c-3"]);
    const second = await callJson<Page>("GET", `/api/v1/admin/commands?agent_id=${agentId}&status=completed&limit=2&after=${first.next}`, 200, {
      token: admin,
    });
    expect(second.commands.map((c) => c.commandId)).toEqual(["c-1", "c-0"]);
  });

  it("has no next on a page that is not full", async () => {
    const all = await callJson<Page>("GET", `/api/v1/admin/commands?agent_id=${agentId}`, 200, { token: admin });
    expect(all.total).toBe(6);
    expect(all.next).toBeUndefined();
  });

  it("refuses an after naming no command with 400", async () => {
    const unknown = await call("GET", "/api/v1/admin/commands?after=no-such-command", { token: admin });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ error: "Invalid cursor" });
  });
});
