/** Agent self-service: registration and the WebSocket connect (spec §1.4, §1.5). */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { AGENT_ID_HEADER, AUTHORIZED_AT_HEADER } from "../agent/agent-object";
import { callAgentObject, getAgentStub } from "../agent/stub";
import { agentInsertPending, agentRecordHttpHeartbeat, agentUpdateRegistration } from "../db/queries/agents";
import type { AgentPrincipal, AppEnv } from "../env";
import { AppError } from "../errors";
import { CapacitySchema } from "../lib/capacity";
import { requireAgentKey } from "../middleware/agent-auth";
import { agentRateLimit } from "../middleware/rate-limit";
import { AgentSchema, toAgentJson } from "../views/agent";
import { errorResponses } from "../views/error";
import { jsonContent } from "./openapi";
import { validationHook } from "./validation";

/**
 * An agent's metadata is free-form, and the bootstrap key registers new agents with it: without a
 * bound, 1 MiB each, read back on every authentication of the agent and in every admin agent list.
 * Agents send a few labels.
 */
const MAX_METADATA_CHARS = 64 * 1024;

const RegisterBody = z
  .object({
    agentId: z.string().min(3).max(100),
    platform: z.enum(["kubernetes", "docker", "vm", "cloud"]),
    // null is absent, as in the original's decoder.
    region: z.string().min(2).max(50).nullish(),
    capacity: CapacitySchema.nullish(),
    metadata: z
      .record(z.string(), z.unknown())
      .refine((m) => JSON.stringify(m).length <= MAX_METADATA_CHARS, { message: `at most ${MAX_METADATA_CHARS / 1024} Ki characters of JSON` })
      .nullish(),
  })
  .openapi("AgentRegistration");

const Wrapped = z
  .object({ agent: AgentSchema, approvalStatus: z.string(), message: z.string() })
  .openapi("AgentRegistrationStatus");


const registerRoute = createRoute({
  method: "post",
  path: "/register",
  summary: "Register (or re-register) an agent",
  request: { body: { ...jsonContent(RegisterBody), required: true } },
  responses: {
    200: { description: "Registered: plain Agent (own key) or approved status (bootstrap key)", ...jsonContent(z.union([AgentSchema, Wrapped])) },
    202: { description: "Awaiting administrator approval", ...jsonContent(Wrapped) },
    403: { description: "Rejected, or wrong key", ...jsonContent(z.union([Wrapped, z.object({ error: z.string() }).passthrough()])) },
    ...errorResponses(400, 401, 404),
  },
});

const HeartbeatBody = z
  .object({
    status: z.enum(["online", "draining"]),
    activeSessions: z.number().int().min(0),
    capacity: CapacitySchema.nullish(),
  })
  .openapi("AgentHttpHeartbeat");

const heartbeatRoute = createRoute({
  method: "post",
  path: "/{agent_id}/heartbeat",
  summary: "HTTP heartbeat; `draining` keeps the agent out of selection for new sessions",
  request: { params: z.object({ agent_id: z.string().min(1).max(255) }), body: { ...jsonContent(HeartbeatBody), required: true } },
  responses: {
    200: {
      description: "Recorded",
      ...jsonContent(z.object({ message: z.string(), agentId: z.string(), status: z.string(), lastHeartbeat: z.string() })),
    },
    ...errorResponses(400, 401, 403, 404, 429),
  },
});

const MESSAGES = {
  approved: "Agent approved. Use your configured API key for subsequent requests.",
  pending:
    "Agent registration request received. Waiting for administrator approval. Please retry registration periodically.",
  rejected: "Agent registration has been rejected by administrator.",
};

/**
 * An agent awaiting approval, or rejected, may register (to learn its status) but not connect
 * or heartbeat: otherwise anyone holding the bootstrap key could bring a new agent online and be
 * sent users' sessions before an admin looked at it. (The original checked neither; real agents
 * wait for approval before they connect.) A pending agent's own key was issued by an admin,
 * which is a decision already; a rejection is a later one, and stops any key.
 */
function requireApproved(principal: AgentPrincipal): void {
  const stopped = principal.approvalStatus === "rejected" || (principal.approvalStatus === "pending" && principal.bootstrap);
  if (stopped) {
    throw new AppError("forbidden", "Agent not approved", MESSAGES[principal.approvalStatus as "pending" | "rejected"], {
      agentId: principal.agentId,
      approvalStatus: principal.approvalStatus,
    });
  }
}

export function agentRoutes() {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  // Rate limit first, as the original did: rejected callers cost no database work.
  app.use("*", agentRateLimit());
  app.use("/register", requireAgentKey());
  app.use("/connect", requireAgentKey());
  app.use("/:agent_id/heartbeat", requireAgentKey());

  app.openapi(registerRoute, async (c) => {
    const body = c.req.valid("json");
    const principal = c.var.agent;
    if (principal.agentId !== body.agentId) {
      throw new AppError("forbidden", "Invalid API key", "The key was presented for a different agent_id.");
    }
    const reg = {
      agentId: body.agentId,
      platform: body.platform,
      region: body.region ?? "",
      capacity: body.capacity ?? null,
      metadata: body.metadata ?? null,
    };
    const row = (await agentUpdateRegistration(c.var.db, reg)) ?? (await agentInsertPending(c.var.db, reg));
    const agent = toAgentJson(row);
    if (!principal.bootstrap) return c.json(agent, 200);
    if (row.approvalStatus === "approved" && row.apiKeyHash) {
      return c.json({ agent, approvalStatus: "approved", message: MESSAGES.approved }, 200);
    }
    if (row.approvalStatus === "pending") {
      return c.json({ agent, approvalStatus: "pending", message: MESSAGES.pending }, 202);
    }
    return c.json({ agent, approvalStatus: "rejected", message: MESSAGES.rejected }, 403);
  });

  app.openapi(heartbeatRoute, async (c) => {
    const { agent_id } = c.req.valid("param");
    if (c.var.agent.agentId !== agent_id) {
      throw new AppError("forbidden", "Invalid API key", "The key was presented for a different agent_id.");
    }
    requireApproved(c.var.agent);
    const body = c.req.valid("json");
    const row = await agentRecordHttpHeartbeat(c.var.db, agent_id, body.status, body.capacity ?? undefined);
    if (!row) throw new AppError("not_found", "Agent not found", `No agent ${agent_id}`, { agentId: agent_id });
    return c.json(
      {
        message: "Heartbeat updated successfully",
        agentId: agent_id,
        status: body.status,
        lastHeartbeat: (row.lastHeartbeat ?? new Date()).toISOString(),
      },
      200,
    );
  });

  // A WebSocket upgrade: not an OpenAPI route (the document lists it in the README instead).
  app.get("/connect", async (c) => {
    const agentId = c.var.agent.agentId;
    if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
      throw new AppError("bad_request", "Expected WebSocket", "This endpoint needs a WebSocket upgrade.");
    }
    // The auth middleware has just read the agent's row: no second read.
    if (!c.var.agent.registered) {
      throw new AppError("not_found", "Agent not found", "Agent must register before connecting via WebSocket", {
        agentId,
      });
    }
    requireApproved(c.var.agent);
    const headers = new Headers(c.req.raw.headers);
    headers.set(AGENT_ID_HEADER, agentId);
    headers.set(AUTHORIZED_AT_HEADER, String(c.var.agent.authorizedAt));
    const res = await callAgentObject(() => getAgentStub(c.env, agentId).fetch(new Request(c.req.raw.url, { headers })));
    if (res.webSocket) return res;
    // The object refused the upgrade: its words, in the shape every error has.
    const reason = await res.text();
    if (res.status === 403) throw new AppError("forbidden", "Credentials revoked", reason, { agentId });
    const refusal = `The agent's object refused the upgrade: ${res.status} ${reason}`;
    // The cause gets it logged with the request id (toErrorResponse logs 5xx answers that have one).
    throw new AppError("internal", "Internal server error", refusal, { agentId }, { cause: new Error(refusal) });
  });

  return app;
}
