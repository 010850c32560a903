/**
 * A create's resources must be Kubernetes quantities (spec §5.3 step 4): anything else answers
 * 400 "Invalid resource request" and writes nothing, instead of a session that fails later on
 * the agent. Empty values take the defaults (2Gi, 1000m).
 */
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { query } from "../helpers/db";
import { call, tokenFor } from "../helpers/http";
import { agentReadyFor } from "../helpers/ws";
import type { AgentSocket } from "../helpers/ws";

const TEMPLATE = "quantity-desk";

describe("a session create's resources", () => {
  let socket: AgentSocket;
  let token: string;
  beforeAll(async () => {
    ({ socket } = await agentReadyFor(TEMPLATE));
    token = await tokenFor("quinn");
  });
  afterAll(() => socket.close());

  const create = (resources: Record<string, string>) =>
    call("POST", "/api/v1/sessions", { token, body: { user: "quinn", template: TEMPLATE, resources } });

  it.each<Record<string, string>>([{ memory: "lots" }, { cpu: "2 cores" }, { memory: "-1Gi" }, { cpu: "1.5.2" }, { memory: "2GB" }])(
    "refuses %o with 400 Invalid resource request",
    async (resources) => {
      const res = await create(resources);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: "Invalid resource request", field: `resources.${Object.keys(resources)[0]}` });
    },
  );

  it("accepts quantities Kubernetes takes, and nothing refused was written", async () => {
    for (const resources of [{ memory: "2Gi", cpu: "500m" }, { memory: "512Mi", cpu: "0.5" }, { memory: "1e9", cpu: "2" }, { memory: "", cpu: "" }]) {
      expect((await create(resources)).status).toBe(202);
    }
    const rows = await query<{ memory: string; cpu: string }>(sql`select memory, cpu from sessions where user_id = 'quinn' order by created_at`);
    expect(rows.map((r) => `${r.memory}/${r.cpu}`)).toEqual(["2Gi/500m", "512Mi/0.5", "1e9/2", "2Gi/1000m"]);
  });
});
