/**
 * Migration 0010 gives imported `sent`/`ack` rows without a lease (a StreamSpace database had no
 * leases) a lease that has run out and their action's deadline. The next sweep then judges them:
 * an ancient one ends `expired` instead of reaching its agent again, a recent one is re-queued,
 * and neither strands the newer in-flight commands of its agent any more. The test runs the
 * migration's statement on rows inserted as an import would have left them.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import migration from "../../migrations/0010_in_flight_rows_get_a_lease.sql?raw";
import { runSweepNow } from "../helpers/cron";
import { getCommand, makeAgent, query } from "../helpers/db";

describe("migration 0010", () => {
  it("lets the sweep judge in-flight rows that have no lease, and the newer ones behind them", async () => {
    const { agentId } = await makeAgent();
    await query(sql`insert into agent_commands (command_id, agent_id, action, status, created_at) values
      ('cmd-imported-ancient', ${agentId}, 'start_session', 'ack', now() - interval '3 days'),
      ('cmd-imported-recent', ${agentId}, 'stop_session', 'sent', now() - interval '2 minutes')`);
    await query(sql`insert into agent_commands (command_id, agent_id, action, status, lease_expires_at, created_at)
      values ('cmd-newer', ${agentId}, 'stop_session', 'sent', now() - interval '1 second', now() - interval '1 minute')`);

    await runSweepNow();
    // Before the migration: nothing was judged, the oldest row has no lease to run out.
    expect((await getCommand("cmd-newer"))?.status).toBe("sent");

    await query(sql.raw(migration));
    // One sweep judges one command per agent, oldest first: the ancient import is past its
    // action's deadline and ends expired; then the recent import is re-queued; then the newer.
    await runSweepNow();
    expect((await getCommand("cmd-imported-ancient"))?.status).toBe("expired");
    expect((await getCommand("cmd-imported-recent"))?.status).toBe("sent");
    await runSweepNow();
    expect((await getCommand("cmd-imported-recent"))?.status).toBe("pending");
    await runSweepNow();
    expect((await getCommand("cmd-newer"))?.status).toBe("pending");
  });
});
