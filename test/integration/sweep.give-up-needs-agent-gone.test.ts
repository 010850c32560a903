/**
 * The reconciler gives up on a session only when its agent has been gone for the whole
 * threshold (checklist 50: "agent gone > 10 min"), not when it happens to be offline at the
 * moment of the sweep: an agent reconnecting after a blip (2–20 s) may still be running a long
 * start, and a session failed under it would stay failed while its pod comes up. Gone means not
 * heard from: a registration, which k8s-agent sends before every connect attempt, is not a sign
 * of life the session can use.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { runSweepNow } from "../helpers/cron";
import { getSessionRow, makeAgent, query } from "../helpers/db";

describe("the reconciler's give-up", () => {
  it("leaves a long-pending session alone while its agent has been offline only briefly", async () => {
    const { agentId } = await makeAgent();
    await query(sql`update agents set status = 'offline', last_heartbeat = now() - interval '20 seconds' where agent_id = ${agentId}`);
    await query(sql`insert into sessions (id, user_id, state, agent_id, updated_at) values
      ('blip-p', 'u', 'pending', ${agentId}, now() - interval '11 minutes'),
      ('blip-t', 'u', 'terminating', ${agentId}, now() - interval '11 minutes')`);
    const result = await runSweepNow();
    expect(result).toMatchObject({ sessionsFailed: 0, sessionsTerminated: 0 });
    expect((await getSessionRow("blip-p"))?.state).toBe("pending");
    expect((await getSessionRow("blip-t"))?.state).toBe("terminating");
  });

  it("gives up on an agent not heard from for 10 minutes, though it keeps registering", async () => {
    const { agentId } = await makeAgent();
    // k8s-agent registers again before every connect attempt: its row changes, it is not back.
    await query(sql`update agents set status = 'offline', last_heartbeat = now() - interval '11 minutes', updated_at = now() where agent_id = ${agentId}`);
    await query(sql`insert into sessions (id, user_id, state, agent_id, updated_at, pod_name, url) values
      ('reg-p', 'u', 'pending', ${agentId}, now() - interval '11 minutes', '', ''),
      ('reg-t', 'u', 'terminating', ${agentId}, now() - interval '11 minutes', 'pod-t', '/vnc-t')`);
    const result = await runSweepNow();
    expect(result).toMatchObject({ sessionsFailed: 1, sessionsTerminated: 1 });
    expect((await getSessionRow("reg-p"))?.state).toBe("failed");
    // Ended, it shows no pod.
    expect(await getSessionRow("reg-t")).toMatchObject({ state: "terminated", pod_name: "", url: "" });
  });
});
