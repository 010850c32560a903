/** Session API (spec §5.2): create, list, get, stop, hibernate, wake. JWT users; admins see all. */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { requestDelivery } from "../agent/stub";
import type { CreatedCommand } from "../agent/stub";
import { sessionGetById, sessionList } from "../db/queries/sessions";
import type { AppEnv } from "../env";
import { AppError } from "../errors";
import { deliveryPolicy } from "../lib/delivery-policy";
import { idempotencyRequest, onceForKey } from "../lib/idempotency";
import { createSession } from "../sessions/create-session";
import { requestSessionAction } from "../sessions/session-commands";
import { errorResponses } from "../views/error";
import { SessionSchema, toSessionJson } from "../views/session";
import type { SessionJson } from "../views/session";
import { jsonContent } from "./openapi";
import { validationHook } from "./validation";

// Optional fields may be null, which the original's decoder took as absent (so do clients).
const CreateSessionBody = z
  .object({
    user: z.string().min(1).max(100),
    template: z.string().min(1).max(255).nullish(),
    applicationId: z.string().nullish(),
    resources: z
      .object({ memory: z.string().max(50).nullish(), cpu: z.string().max(50).nullish() })
      .nullish(),
    persistentHome: z.boolean().nullish(),
    idleTimeout: z.string().max(50).nullish(),
    maxSessionDuration: z.string().max(50).nullish(),
    tags: z.array(z.string().max(100)).max(50).nullish(),
  })
  .openapi("CreateSessionRequest");

const SessionIdParam = z.object({ id: z.string().min(1).max(255) });

const ActionAccepted = z.object({ name: z.string(), commandId: z.string(), message: z.string() });

const createRouteDef = createRoute({
  method: "post",
  path: "/",
  summary: "Create a session on the least-loaded online agent",
  request: { body: { ...jsonContent(CreateSessionBody), required: true } },
  responses: {
    202: { description: "Accepted; the agent is provisioning it", ...jsonContent(SessionSchema) },
    ...errorResponses(400, 401, 403, 404, 503),
  },
});

/** Sessions are kept for good: a list is paged, at most this many to a page (the default). */
const MAX_PAGE = 1000;

const listRoute = createRoute({
  method: "get",
  path: "/",
  summary: "List sessions (your own; admins see all, or one user's with ?user=)",
  request: {
    query: z.object({
      user: z.string().optional(),
      state: z.string().max(50).optional(),
      limit: z.coerce.number().int().min(1).max(MAX_PAGE).optional(),
      after: z.string().min(1).max(255).optional(),
    }),
  },
  responses: {
    200: {
      description: "Sessions, newest first; `next` is the `after` of the next page, when there may be one",
      ...jsonContent(z.object({ sessions: z.array(SessionSchema), total: z.number(), next: z.string().optional() })),
    },
    ...errorResponses(400, 401),
  },
});

const getRoute = createRoute({
  method: "get",
  path: "/{id}",
  request: { params: SessionIdParam },
  responses: { 200: { description: "The session", ...jsonContent(SessionSchema) }, ...errorResponses(401, 404) },
});

const actionRoute = (method: "delete" | "put", path: string, summary: string) =>
  createRoute({
    method,
    path,
    summary,
    request: { params: SessionIdParam },
    responses: { 202: { description: "Accepted", ...jsonContent(ActionAccepted) }, ...errorResponses(401, 404, 409) },
  });

const ACTIONS = [
  { route: actionRoute("delete", "/{id}", "Stop a session"), action: "stop_session", message: "Session termination requested, agent will delete resources" },
  { route: actionRoute("put", "/{id}/hibernate", "Hibernate a running session"), action: "hibernate_session", message: "Session hibernation requested, agent will scale down resources" },
  { route: actionRoute("put", "/{id}/wake", "Wake a hibernated session"), action: "wake_session", message: "Session wake requested, agent will scale up resources" },
] as const;

export function sessionRoutes() {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(createRouteDef, async (c) => {
    const body = c.req.valid("json");
    const user = c.var.user;
    if (!user.isAdmin && body.user !== user.userId) {
      throw new AppError("forbidden", "Forbidden", "You can only create sessions for yourself.");
    }
    const template = body.template;
    if (!template) {
      throw new AppError(
        "bad_request",
        "Missing required field",
        body.applicationId
          ? "applicationId is not supported by this control plane; pass 'template'"
          : "Either 'applicationId' or 'template' must be provided",
      );
    }
    const db = c.var.db;
    let created: CreatedCommand | undefined;
    const answer = await onceForKey(
      db,
      await idempotencyRequest(c, "POST /api/v1/sessions"),
      async (tx) => {
        const policy = deliveryPolicy(c.var.config);
        const { session, command } = await createSession(tx, { ...body, template }, c.var.config.PLATFORM, policy, tx !== db);
        created = command;
        const view = toSessionJson(session);
        const message = `Session provisioning in progress (agent: ${session.agentId}, command: ${command.commandId})`;
        return { statusCode: 202, response: { ...view, status: { phase: "Pending", message } } };
      },
    );
    const view = answer.response as SessionJson;
    // On a replay too: delivering is idempotent, and the first request's delivery may have failed.
    // But a replay pushes nothing of its own: what this request wrote, if it lost a race for the
    // key, was rolled back, and only the database knows what the first request left pending.
    if (view.agentId) {
      const push = answer.replayed ? undefined : created;
      requestDelivery(c.env, c.executionCtx, view.agentId, c.var.log, push);
    }
    return c.json(view, 202);
  });

  app.openapi(listRoute, async (c) => {
    const { user: requested, state, limit = MAX_PAGE, after } = c.req.valid("query");
    const user = c.var.user;
    const userId = user.isAdmin ? requested : user.userId;
    const rows = await sessionList(c.var.db, { userId, state, after, limit });
    if (!rows) throw new AppError("bad_request", "Invalid cursor", `after names no session: ${after}`);
    // A full page may have a next one; `total` counts this page, as the original's counted all.
    const next = rows.length === limit ? rows[rows.length - 1]!.id : undefined;
    return c.json({ sessions: rows.map(toSessionJson), total: rows.length, ...(next ? { next } : {}) }, 200);
  });

  app.openapi(getRoute, async (c) => {
    const { id } = c.req.valid("param");
    const row = await sessionGetById(c.var.db, id);
    if (!row || (!c.var.user.isAdmin && row.userId !== c.var.user.userId)) {
      throw new AppError("not_found", "Session not found", `No session found with ID: ${id}`);
    }
    return c.json(toSessionJson(row), 200);
  });

  for (const { route, action, message } of ACTIONS) {
    app.openapi(route, async (c) => {
      const { id } = c.req.valid("param");
      const { command } = await requestSessionAction(c.var.db, id, action, c.var.user, deliveryPolicy(c.var.config));
      requestDelivery(c.env, c.executionCtx, command.agentId!, c.var.log, command);
      return c.json({ name: id, commandId: command.commandId, message }, 202);
    });
  }

  return app;
}
