/** Admin: the command table, filtered by agent and status (newest first), and one command. */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { requestDelivery } from "../agent/stub";
import type { Queryable } from "../db/client";
import { commandCancel, commandGetById, commandList, commandReletAfter, commandRetry, isCommandCursor, RETRYABLE_STATUSES } from "../db/queries/commands";
import { transaction } from "../db/transaction";
import { commandDeadline, deliveryPolicy } from "../lib/delivery-policy";
import { sessionAfterFailure, sessionBeforeRetry } from "../sessions/command-outcome";
import type { AppEnv } from "../env";
import { AppError } from "../errors";
import { CommandSchema, COMMAND_STATUSES, toCommandJson } from "../views/command";
import { errorResponses } from "../views/error";
import { jsonContent } from "./openapi";
import { validationHook } from "./validation";

const routes = {
  listCommands: createRoute({
    method: "get",
    path: "/commands",
    request: {
      query: z.object({
        agent_id: z.string().optional(),
        status: z.enum(COMMAND_STATUSES).optional(),
        limit: z.coerce.number().int().min(1).max(1000).default(100),
        after: z.string().min(1).max(255).optional(),
      }),
    },
    responses: {
      200: {
        description: "Commands, newest first; `next` is the `after` of the next page, when there may be one",
        ...jsonContent(z.object({ commands: z.array(CommandSchema), total: z.number(), next: z.string().optional() })),
      },
      ...errorResponses(400, 401, 403),
    },
  }),
  getCommand: createRoute({
    method: "get",
    path: "/commands/{commandId}",
    request: { params: z.object({ commandId: z.string().min(1).max(255) }) },
    responses: { 200: { description: "Command", ...jsonContent(CommandSchema) }, ...errorResponses(401, 403, 404) },
  }),
  cancel: createRoute({
    method: "post",
    path: "/commands/{commandId}/cancel",
    summary: "Cancel a command that has not finished; an agent already running it may still finish, but its answer is ignored",
    request: { params: z.object({ commandId: z.string().min(1).max(255) }) },
    responses: { 200: { description: "Cancelled", ...jsonContent(CommandSchema) }, ...errorResponses(401, 403, 404, 409) },
  }),
  retry: createRoute({
    method: "post",
    path: "/commands/{commandId}/retry",
    summary:
      "Queue a failed or expired command again: pending, attempts from zero, a new deadline; its session goes back to where the command left it from (409 if the session has moved on since)",
    request: { params: z.object({ commandId: z.string().min(1).max(255) }) },
    responses: { 200: { description: "Pending again", ...jsonContent(CommandSchema) }, ...errorResponses(401, 403, 404, 409) },
  }),
};

export function adminCommandRoutes() {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(routes.listCommands, async (c) => {
    const q = c.req.valid("query");
    if (q.after !== undefined && !isCommandCursor(q.after)) {
      throw new AppError("bad_request", "Invalid cursor", `after is not the next of an earlier page: ${q.after}`);
    }
    const rows = await commandList(c.var.db, { agentId: q.agent_id, status: q.status, after: q.after, limit: q.limit });
    // A full page may have a next one; `total` counts this page.
    const next = rows.length === q.limit ? rows[rows.length - 1]!.cursor : undefined;
    return c.json({ commands: rows.map(toCommandJson), total: rows.length, ...(next ? { next } : {}) }, 200);
  });

  app.openapi(routes.getCommand, async (c) => {
    const { commandId } = c.req.valid("param");
    const row = await commandGetById(c.var.db, commandId);
    if (!row) throw new AppError("not_found", "Command not found", `No command ${commandId}`);
    return c.json(toCommandJson(row), 200);
  });

  app.openapi(routes.cancel, async (c) => {
    const { commandId } = c.req.valid("param");
    // The command and its session in one transaction: a cancelled command is final, so nothing
    // would come back to move a session left behind. The relet before the session: a session's
    // move can take the agent's row (its load counter), and an answer that holds the next command
    // may be about to queue a stop, which takes that row too (migration 0025): the cancel must not
    // hold the agent while it waits for that command.
    const row = await transaction(c.var.db, async (tx) => {
      const cancelled = await commandCancel(tx, commandId);
      if (cancelled) {
        await commandReletAfter(tx, cancelled, deliveryPolicy(c.var.config));
        await sessionAfterFailure(tx, cancelled);
      }
      return cancelled;
    });
    if (!row) throw await notFinishable(c.var.db, commandId, "cancelled", "it has already finished");
    return c.json(toCommandJson(row), 200);
  });

  app.openapi(routes.retry, async (c) => {
    const { commandId } = c.req.valid("param");
    const existing = await commandGetById(c.var.db, commandId);
    const policy = deliveryPolicy(c.var.config);
    const notRetryable = (db: Queryable) => notFinishable(db, commandId, "retried", "only failed or expired commands can be retried");
    if (!existing || !RETRYABLE_STATUSES.includes(existing.status ?? "")) throw await notRetryable(c.var.db);
    // The command and its session in one transaction (see sessionBeforeRetry). The session first:
    // its row lock orders the retry with the session's other actions, and the command's new
    // created_at must be taken once that lock is held. Taken before a wait for it, the retried
    // command would be older than a command another action created and committed meanwhile, and
    // would go out after it.
    const row = await transaction(c.var.db, async (tx) => {
      if (!(await sessionBeforeRetry(tx, existing))) {
        throw new AppError("conflict", "Session has moved on", `Session ${existing.sessionId} is no longer where the failed ${existing.action} left it, or a stop of it is still open; nothing was retried`);
      }
      const retried = await commandRetry(tx, commandId, commandDeadline(policy, existing.action));
      // Finished otherwise (or retried) meanwhile: the session's move is rolled back with this.
      if (!retried) throw await notRetryable(tx);
      return retried;
    });
    if (row.agentId) requestDelivery(c.env, c.executionCtx, row.agentId, c.var.log);
    return c.json(toCommandJson(row), 200);
  });

  return app;
}

/** 404 when the command does not exist, else 409 naming its status. */
async function notFinishable(db: Queryable, commandId: string, verb: string, why: string): Promise<AppError> {
  const row = await commandGetById(db, commandId);
  if (!row) return new AppError("not_found", "Command not found", `No command ${commandId}`);
  return new AppError("conflict", "Invalid command state", `Command ${commandId} is ${row.status} and cannot be ${verb}: ${why}`, {
    status: row.status,
  });
}
