/**
 * Admin: agents (spec §5.5). List/get/delete, approve/reject, API keys, and sending a command,
 * which is queued `pending` when the agent is offline (the original answered 503).
 */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { callAgentObject, getAgentStub, requestDelivery } from "../agent/stub";
import { TOO_LARGE_FOR_A_FRAME, fitsACommandFrame } from "../agent/protocol";
import type { CreatedCommand } from "../agent/stub";
import { agentApprove, agentDelete, agentGetById, agentList, agentReject, agentSetKey } from "../db/queries/agents";
import { commandInsertIfAgentExists } from "../db/queries/commands";
import type { AppEnv } from "../env";
import { AppError, isOutcomeUnknown } from "../errors";
import { generateApiKey, hashApiKey } from "../lib/api-key";
import { commandDeadline, deliveryPolicy } from "../lib/delivery-policy";
import { idempotencyRequest, onceForKey } from "../lib/idempotency";
import { newCommandId } from "../lib/ids";
import { AgentSchema, toAgentJson } from "../views/agent";
import { CommandSchema, toCommandJson } from "../views/command";
import type { CommandJson } from "../views/command";
import { errorResponses } from "../views/error";
import { jsonContent } from "./openapi";
import { validationHook } from "./validation";

const AgentIdParam = z.object({ agent_id: z.string().min(1).max(255) });
const ACTIONS = ["start_session", "stop_session", "hibernate_session", "wake_session"] as const;

const KeyIssued = z.object({
  message: z.string(),
  agentId: z.string(),
  apiKey: z.string(),
  warning: z.string(),
  usage: z.object({ header: z.string(), value: z.string() }),
  createdAt: z.string(),
  rotated: z.boolean().optional(),
});

const SendCommandBody = z
  .object({
    action: z.enum(ACTIONS),
    // null is absent, as in the original's decoder.
    sessionId: z.string().max(255).nullish(),
    payload: z
      .record(z.string(), z.unknown())
      .refine(fitsACommandFrame, { message: `a payload ${TOO_LARGE_FOR_A_FRAME}` })
      .nullish(),
  })
  // Agents act on the payload's sessionId, while the command's outcome moves the session named
  // by sessionId: two different ones would change one session for what was done to another.
  .superRefine((body, ctx) => {
    const inPayload = body.payload?.["sessionId"];
    if (body.sessionId != null && inPayload != null && inPayload !== body.sessionId) {
      ctx.addIssue({ code: "custom", path: ["payload", "sessionId"], message: "must be sessionId when given (agents act on the session it names)" });
    }
  })
  .openapi("SendCommandRequest");

const keyRoute = (path: string, summary: string) =>
  createRoute({
    method: "post",
    path,
    summary,
    request: { params: AgentIdParam },
    responses: { 200: { description: "The new key, shown once", ...jsonContent(KeyIssued) }, ...errorResponses(401, 403, 404) },
  });

const routes = {
  list: createRoute({
    method: "get",
    path: "/",
    request: {
      query: z.object({ platform: z.string().optional(), status: z.string().optional(), region: z.string().optional() }),
    },
    responses: {
      200: { description: "Agents, newest first", ...jsonContent(z.object({ agents: z.array(AgentSchema), total: z.number() })) },
      ...errorResponses(401, 403),
    },
  }),
  get: createRoute({
    method: "get",
    path: "/{agent_id}",
    request: { params: AgentIdParam },
    responses: { 200: { description: "Agent", ...jsonContent(AgentSchema) }, ...errorResponses(401, 403, 404) },
  }),
  delete: createRoute({
    method: "delete",
    path: "/{agent_id}",
    summary: "Deregister an agent: its commands are deleted, its sessions keep a NULL agent, its socket is closed",
    request: { params: AgentIdParam },
    responses: {
      200: { description: "Deleted", ...jsonContent(z.object({ message: z.string(), agentId: z.string() })) },
      ...errorResponses(401, 403, 404),
    },
  }),
  approve: createRoute({
    method: "post",
    path: "/{agent_id}/approve",
    summary: "Approve a pending agent; answers with its new API key, shown once",
    request: { params: AgentIdParam },
    responses: {
      200: {
        description: "Approved",
        ...jsonContent(z.object({ message: z.string(), agentId: z.string(), apiKey: z.string(), warning: z.string() })),
      },
      ...errorResponses(401, 403, 404),
    },
  }),
  reject: createRoute({
    method: "post",
    path: "/{agent_id}/reject",
    request: { params: AgentIdParam },
    responses: {
      200: { description: "Rejected", ...jsonContent(z.object({ message: z.string(), agentId: z.string() })) },
      ...errorResponses(401, 403, 404),
    },
  }),
  generateKey: keyRoute("/{agent_id}/generate-key", "Issue an API key for the agent (replaces any existing key)"),
  rotateKey: keyRoute("/{agent_id}/rotate-key", "Replace the agent's key: the old one stops working at once"),
  command: createRoute({
    method: "post",
    path: "/{agent_id}/command",
    summary: "Queue a command for the agent; delivered now if connected, else when it connects",
    request: { params: AgentIdParam, body: { ...jsonContent(SendCommandBody), required: true } },
    responses: { 201: { description: "Queued", ...jsonContent(CommandSchema) }, ...errorResponses(400, 401, 403, 404) },
  }),
};

export function adminAgentRoutes() {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  const mustExist = async (db: AppEnv["Variables"]["db"], agentId: string) => {
    const row = await agentGetById(db, agentId);
    if (!row) throw agentNotFound(agentId);
    return row;
  };

  app.openapi(routes.list, async (c) => {
    const rows = await agentList(c.var.db, c.req.valid("query"));
    return c.json({ agents: rows.map(toAgentJson), total: rows.length }, 200);
  });

  app.openapi(routes.get, async (c) => {
    return c.json(toAgentJson(await mustExist(c.var.db, c.req.valid("param").agent_id)), 200);
  });

  app.openapi(routes.delete, async (c) => {
    const { agent_id } = c.req.valid("param");
    await mustExist(c.var.db, agent_id);
    // Disconnected before the delete, so a failed call leaves the agent in place for a retry;
    // and again after it, for a connect authorized in between (see AgentObject.disconnect).
    const agent = getAgentStub(c.env, agent_id);
    await callAgentObject(() => agent.disconnect("agent deleted"));
    if (!(await agentDelete(c.var.db, agent_id))) {
      throw new AppError("not_found", "Agent not found", `No agent ${agent_id}`, { agentId: agent_id });
    }
    afterResponse(c, agent.disconnect("agent deleted", Date.now()), "disconnect after delete failed");
    return c.json({ message: "Agent deregistered successfully", agentId: agent_id }, 200);
  });

  app.openapi(routes.approve, async (c) => {
    const { agent_id } = c.req.valid("param");
    const apiKey = generateApiKey();
    const notPending = () => new AppError("not_found", "Agent not found or not in pending status", `Agent ${agent_id} is not pending approval`);
    const before = await agentGetById(c.var.db, agent_id);
    // Refused before anything is disconnected: a repeated approve must not close a working socket.
    if (before?.approvalStatus !== "pending") throw notPending();
    // The approval issues a new key: a socket opened with a key an admin issued the pending agent
    // must not outlive that key, as on a rotation (the disconnects are the same, for the same reasons).
    const hadKey = before.apiKeyHash !== null;
    const agent = getAgentStub(c.env, agent_id);
    if (hadKey) await callAgentObject(() => agent.disconnect("API key replaced on approval"));
    const row = await agentApprove(c.var.db, agent_id, c.var.user.userId, await hashApiKey(apiKey));
    if (!row) throw notPending();
    if (hadKey) afterResponse(c, agent.disconnect("API key replaced on approval", Date.now()), "disconnect after approval failed");
    return c.json(
      {
        message: "Agent approved successfully",
        agentId: agent_id,
        apiKey,
        warning: "Provide this API key to the agent - it will not be shown again",
      },
      200,
    );
  });

  app.openapi(routes.reject, async (c) => {
    const { agent_id } = c.req.valid("param");
    if (!(await agentReject(c.var.db, agent_id, c.var.user.userId))) {
      throw new AppError("not_found", "Agent not found or not in pending status", `Agent ${agent_id} is not pending approval`);
    }
    // A pending agent with a key an admin issued may be connected: a rejection ends that too.
    afterResponse(c, getAgentStub(c.env, agent_id).disconnect("agent rejected", Date.now()), "disconnect after reject failed");
    return c.json({ message: "Agent rejected", agentId: agent_id }, 200);
  });

  for (const [route, rotate] of [
    [routes.generateKey, false],
    [routes.rotateKey, true],
  ] as const) {
    app.openapi(route, async (c) => {
      const { agent_id } = c.req.valid("param");
      const before = await mustExist(c.var.db, agent_id);
      const apiKey = generateApiKey();
      const hadKey = before.apiKeyHash !== null;
      // A socket opened with the old key must not outlive it. Disconnected before the change, so
      // a failed call changes nothing (the new key is not lost), and again after it, for a
      // connect authorized with the old key in between (see AgentObject.disconnect).
      const agent = getAgentStub(c.env, agent_id);
      if (hadKey) await callAgentObject(() => agent.disconnect("API key rotated"));
      const createdAt = await agentSetKey(c.var.db, agent_id, await hashApiKey(apiKey));
      // Deleted since it was read: the key would be stored nowhere.
      if (!createdAt) throw agentNotFound(agent_id);
      // The time the change committed: a connect authorized since read the new key.
      if (hadKey) afterResponse(c, agent.disconnect("API key rotated", Date.now()), "disconnect after key rotation failed");
      return c.json(
        {
          message: rotate && hadKey ? "API key rotated successfully - old key is now invalid" : "API key generated successfully",
          agentId: agent_id,
          apiKey,
          warning: "SAVE THIS KEY NOW - it will not be shown again",
          usage: { header: "X-Agent-API-Key", value: apiKey },
          createdAt: createdAt.toISOString(),
          ...(rotate ? { rotated: hadKey } : {}),
        },
        200,
      );
    });
  }

  app.openapi(routes.command, async (c) => {
    const { agent_id } = c.req.valid("param");
    const body = c.req.valid("json");
    const db = c.var.db;
    let created: CreatedCommand | undefined;
    const commandId = newCommandId();
    const answer = await onceForKey(
      db,
      await idempotencyRequest(c, `POST /api/v1/admin/agents/${agent_id}/command`),
      async (tx) => {
        const policy = deliveryPolicy(c.var.config);
        const row = await commandInsertIfAgentExists(tx, {
          commandId,
          agentId: agent_id,
          sessionId: body.sessionId ?? null,
          action: body.action,
          payload: body.payload ?? (body.sessionId ? { sessionId: body.sessionId } : {}),
          expiresAt: commandDeadline(policy, body.action),
          maxAttempts: policy.maxAttempts,
        });
        if (!row) throw agentNotFound(agent_id);
        created = row;
        return { statusCode: 201, response: toCommandJson(row) };
      },
    ).catch((err: unknown) => {
      // The command may exist: name it, so the admin can look before queueing another.
      if (!isOutcomeUnknown(err)) throw err;
      throw new AppError(
        "unavailable",
        "Service unavailable",
        `No answer came from the database: command ${commandId} may have been queued. GET /api/v1/admin/commands/${commandId} before retrying (a request with an Idempotency-Key can be retried with the same key).`,
        { outcome: "unknown", commandId },
        { cause: err },
      );
    });
    // A replay pushes nothing of its own (see the session create).
    const push = answer.replayed ? undefined : created;
    requestDelivery(c.env, c.executionCtx, agent_id, c.var.log, push);
    return c.json(answer.response as CommandJson, 201);
  });

  return app;
}

/** Work that must not hold up or fail the answer (its change is committed): waited for, and logged if it fails. */
function afterResponse(c: Context<AppEnv>, work: Promise<unknown>, message: string): void {
  c.executionCtx.waitUntil(work.catch((err: unknown) => c.var.log.error(message, { err })));
}

function agentNotFound(agentId: string): AppError {
  return new AppError("not_found", "Agent not found", `No agent ${agentId}`, { agentId });
}
