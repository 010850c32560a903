/** Admin: the command table, filtered by agent and status (newest first), and one command. */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { commandGetById, commandList } from "../db/queries/commands";
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
      }),
    },
    responses: { 200: { description: "Commands, newest first", ...jsonContent(z.object({ commands: z.array(CommandSchema), total: z.number() })) }, ...errorResponses(400, 401, 403) },
  }),
  getCommand: createRoute({
    method: "get",
    path: "/commands/{commandId}",
    request: { params: z.object({ commandId: z.string().min(1).max(255) }) },
    responses: { 200: { description: "Command", ...jsonContent(CommandSchema) }, ...errorResponses(401, 403, 404) },
  }),
};

export function adminCommandRoutes() {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(routes.listCommands, async (c) => {
    const q = c.req.valid("query");
    const rows = await commandList(c.var.db, { agentId: q.agent_id, status: q.status, limit: q.limit });
    return c.json({ commands: rows.map(toCommandJson), total: rows.length }, 200);
  });

  app.openapi(routes.getCommand, async (c) => {
    const { commandId } = c.req.valid("param");
    const row = await commandGetById(c.var.db, commandId);
    if (!row) throw new AppError("not_found", "Command not found", `No command ${commandId}`);
    return c.json(toCommandJson(row), 200);
  });

  return app;
}
