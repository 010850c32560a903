/** Admin API (JWT role admin): agents, commands and templates (spec §5.5). */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { agentApprove, agentGetById, agentList, agentReject } from "../db/queries/agents";
import { commandGetById, commandList } from "../db/queries/commands";
import { templateList, templateUpsert } from "../db/queries/templates";
import type { AppEnv } from "../env";
import { AppError } from "../errors";
import { generateApiKey, hashApiKey } from "../lib/api-key";
import { AgentSchema, toAgentJson } from "../views/agent";
import { CommandSchema, toCommandJson } from "../views/command";
import { errorResponses } from "../views/error";
import { validationHook } from "./validation";

const json = <T extends z.ZodType>(schema: T) => ({ content: { "application/json": { schema } } });
const AgentIdParam = z.object({ agent_id: z.string().min(1).max(255) });
const COMMAND_STATUSES = ["pending", "sent", "ack", "completed", "failed"] as const;

const TemplateSchema = z
  .object({ name: z.string(), manifest: z.record(z.string(), z.unknown()), createdAt: z.string(), updatedAt: z.string() })
  .openapi("Template");

const routes = {
  listAgents: createRoute({
    method: "get",
    path: "/agents",
    request: {
      query: z.object({ platform: z.string().optional(), status: z.string().optional(), region: z.string().optional() }),
    },
    responses: { 200: { description: "Agents", ...json(z.object({ agents: z.array(AgentSchema), total: z.number() })) }, ...errorResponses(401, 403) },
  }),
  getAgent: createRoute({
    method: "get",
    path: "/agents/{agent_id}",
    request: { params: AgentIdParam },
    responses: { 200: { description: "Agent", ...json(AgentSchema) }, ...errorResponses(401, 403, 404) },
  }),
  approveAgent: createRoute({
    method: "post",
    path: "/agents/{agent_id}/approve",
    summary: "Approve a pending agent; answers with its new API key, shown once",
    request: { params: AgentIdParam },
    responses: {
      200: {
        description: "Approved",
        ...json(z.object({ message: z.string(), agentId: z.string(), apiKey: z.string(), warning: z.string() })),
      },
      ...errorResponses(401, 403, 404),
    },
  }),
  rejectAgent: createRoute({
    method: "post",
    path: "/agents/{agent_id}/reject",
    request: { params: AgentIdParam },
    responses: { 200: { description: "Rejected", ...json(z.object({ message: z.string(), agentId: z.string() })) }, ...errorResponses(401, 403, 404) },
  }),
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
    responses: { 200: { description: "Commands, newest first", ...json(z.object({ commands: z.array(CommandSchema), total: z.number() })) }, ...errorResponses(400, 401, 403) },
  }),
  getCommand: createRoute({
    method: "get",
    path: "/commands/{commandId}",
    request: { params: z.object({ commandId: z.string().min(1).max(255) }) },
    responses: { 200: { description: "Command", ...json(CommandSchema) }, ...errorResponses(401, 403, 404) },
  }),
  listTemplates: createRoute({
    method: "get",
    path: "/templates",
    responses: { 200: { description: "Templates", ...json(z.object({ templates: z.array(TemplateSchema), total: z.number() })) }, ...errorResponses(401, 403) },
  }),
  putTemplate: createRoute({
    method: "put",
    path: "/templates/{name}",
    summary: "Create or replace a template's manifest (lower-case camelCase keys, spec §1.9)",
    request: {
      params: z.object({ name: z.string().min(1).max(255).regex(/^[a-z0-9][a-z0-9-]*$/, "lower-case letters, digits and dashes") }),
      body: { ...json(z.object({ manifest: z.record(z.string(), z.unknown()) })), required: true },
    },
    responses: { 200: { description: "Stored", ...json(TemplateSchema) }, ...errorResponses(400, 401, 403) },
  }),
};

export function adminRoutes() {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(routes.listAgents, async (c) => {
    const rows = await agentList(c.var.db, c.req.valid("query"));
    return c.json({ agents: rows.map(toAgentJson), total: rows.length }, 200);
  });

  app.openapi(routes.getAgent, async (c) => {
    const { agent_id } = c.req.valid("param");
    const row = await agentGetById(c.var.db, agent_id);
    if (!row) throw new AppError("not_found", "Agent not found", `No agent ${agent_id}`, { agentId: agent_id });
    return c.json(toAgentJson(row), 200);
  });

  app.openapi(routes.approveAgent, async (c) => {
    const { agent_id } = c.req.valid("param");
    const apiKey = generateApiKey();
    const row = await agentApprove(c.var.db, agent_id, c.var.user.userId, await hashApiKey(apiKey));
    if (!row) throw new AppError("not_found", "Agent not found or not in pending status", `Agent ${agent_id} is not pending approval`);
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

  app.openapi(routes.rejectAgent, async (c) => {
    const { agent_id } = c.req.valid("param");
    const row = await agentReject(c.var.db, agent_id, c.var.user.userId);
    if (!row) throw new AppError("not_found", "Agent not found or not in pending status", `Agent ${agent_id} is not pending approval`);
    return c.json({ message: "Agent rejected", agentId: agent_id }, 200);
  });

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

  app.openapi(routes.listTemplates, async (c) => {
    const rows = await templateList(c.var.db);
    return c.json({ templates: rows.map(toTemplateJson), total: rows.length }, 200);
  });

  app.openapi(routes.putTemplate, async (c) => {
    const { name } = c.req.valid("param");
    const { manifest } = c.req.valid("json");
    return c.json(toTemplateJson(await templateUpsert(c.var.db, name, manifest)), 200);
  });

  return app;
}

function toTemplateJson(row: { name: string; manifest: unknown; createdAt: Date | null; updatedAt: Date | null }) {
  return {
    name: row.name,
    manifest: (row.manifest ?? {}) as Record<string, unknown>,
    createdAt: (row.createdAt ?? new Date(0)).toISOString(),
    updatedAt: (row.updatedAt ?? new Date(0)).toISOString(),
  };
}
