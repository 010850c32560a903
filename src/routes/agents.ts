/** Agent self-service: registration and the WebSocket connect (spec §1.4, §1.5). */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { AGENT_ID_HEADER } from "../agent/agent-object";
import { getAgentStub } from "../agent/stub";
import { agentGetById, agentInsertPending, agentUpdateRegistration } from "../db/queries/agents";
import type { AppEnv } from "../env";
import { AppError } from "../errors";
import { CapacitySchema } from "../lib/capacity";
import { requireAgentKey } from "../middleware/agent-auth";
import { AgentSchema, toAgentJson } from "../views/agent";
import { errorResponses } from "../views/error";
import { validationHook } from "./validation";

const RegisterBody = z
  .object({
    agentId: z.string().min(3).max(100),
    platform: z.enum(["kubernetes", "docker", "vm", "cloud"]),
    region: z.string().min(2).max(50).optional(),
    capacity: CapacitySchema.optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
  })
  .openapi("AgentRegistration");

const Wrapped = z
  .object({ agent: AgentSchema, approvalStatus: z.string(), message: z.string() })
  .openapi("AgentRegistrationStatus");

const json = <T extends z.ZodType>(schema: T) => ({ content: { "application/json": { schema } } });

const registerRoute = createRoute({
  method: "post",
  path: "/register",
  summary: "Register (or re-register) an agent",
  request: { body: { ...json(RegisterBody), required: true } },
  responses: {
    200: { description: "Registered: plain Agent (own key) or approved status (bootstrap key)", ...json(z.union([AgentSchema, Wrapped])) },
    202: { description: "Awaiting administrator approval", ...json(Wrapped) },
    403: { description: "Rejected, or wrong key", ...json(z.union([Wrapped, z.object({ error: z.string() }).passthrough()])) },
    ...errorResponses(400, 401, 404),
  },
});

const MESSAGES = {
  approved: "Agent approved. Use your configured API key for subsequent requests.",
  pending:
    "Agent registration request received. Waiting for administrator approval. Please retry registration periodically.",
  rejected: "Agent registration has been rejected by administrator.",
};

export function agentRoutes() {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.use("/register", requireAgentKey());
  app.use("/connect", requireAgentKey());

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

  // A WebSocket upgrade: not an OpenAPI route (the document lists it in the README instead).
  app.get("/connect", async (c) => {
    const agentId = c.var.agent.agentId;
    if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
      throw new AppError("bad_request", "Expected WebSocket", "This endpoint needs a WebSocket upgrade.");
    }
    const agent = await agentGetById(c.var.db, agentId);
    if (!agent) {
      throw new AppError("not_found", "Agent not found", "Agent must register before connecting via WebSocket", {
        agentId,
      });
    }
    const headers = new Headers(c.req.raw.headers);
    headers.set(AGENT_ID_HEADER, agentId);
    return getAgentStub(c.env, agentId).fetch(new Request(c.req.raw.url, { headers }));
  });

  return app;
}
