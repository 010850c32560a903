/**
 * DELETE sends a stop from any session state but `terminating` and `terminated` (spec §5.2):
 * also from NULL or a state only an import leaves ("starting"), where it used to answer 409
 * "Session already terminating" and leave the session with no way to end.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getCommand, getSessionRow, query, uniqueId, waitFor } from "../helpers/db";
import { call, callJson, tokenFor } from "../helpers/http";
import { agentReadyFor } from "../helpers/ws";

describe("DELETE of a session in a state no API call leaves", () => {
  for (const state of [null, "starting"]) {
    it(`sends a stop from ${state === null ? "NULL" : state}, which ends it terminated`, async () => {
      const { agent, socket } = await agentReadyFor("desktop");
      const id = uniqueId("imported");
      await query(sql`insert into sessions (id, user_id, template_name, state, agent_id) values (${id}, 'ivy', 'desktop', ${state}, ${agent.agentId})`);
      const token = await tokenFor("ivy");
      const { commandId } = await callJson<{ commandId: string }>("DELETE", `/api/v1/sessions/${id}`, 202, { token });
      expect((await getSessionRow(id))?.state).toBe("terminating");
      expect((await socket.nextFrame()).payload).toMatchObject({ commandId, action: "stop_session" });
      socket.send({ type: "complete", payload: { commandId, result: { sessionId: id, state: "terminated" } } });
      await waitFor("stop completed", async () => ((await getCommand(commandId))?.status === "completed" ? true : undefined));
      expect((await getSessionRow(id))?.state).toBe("terminated");
      const again = await call("DELETE", `/api/v1/sessions/${id}`, { token });
      expect(again.status).toBe(409);
      expect(await again.json()).toMatchObject({ error: "Session already terminating" });
      socket.close();
    });
  }
});
