/** Admin: session templates (name → manifest sent to agents as `templateManifest`). */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { templateList, templateUpsert } from "../db/queries/templates";
import type { TemplateRow } from "../db/schema";
import type { AppEnv } from "../env";
import { ManifestSchema } from "../sessions/manifest";
import { errorResponses } from "../views/error";
import { jsonContent } from "./openapi";
import { validationHook } from "./validation";

const TemplateSchema = z
  .object({ name: z.string(), manifest: z.record(z.string(), z.unknown()), createdAt: z.string(), updatedAt: z.string() })
  .openapi("Template");

const routes = {
  listTemplates: createRoute({
    method: "get",
    path: "/templates",
    responses: { 200: { description: "Templates", ...jsonContent(z.object({ templates: z.array(TemplateSchema), total: z.number() })) }, ...errorResponses(401, 403) },
  }),
  putTemplate: createRoute({
    method: "put",
    path: "/templates/{name}",
    summary: "Create or replace a template's manifest (lower-case camelCase keys, spec §1.9)",
    request: {
      params: z.object({ name: z.string().min(1).max(63, "at most 63 characters: k8s-agent puts it in a label value").regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, "lower-case letters, digits and dashes, starting and ending with a letter or digit") }),
      body: { ...jsonContent(z.object({ manifest: ManifestSchema })), required: true },
    },
    responses: { 200: { description: "Stored", ...jsonContent(TemplateSchema) }, ...errorResponses(400, 401, 403) },
  }),
};

export function adminTemplateRoutes() {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

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

function toTemplateJson(row: TemplateRow) {
  return {
    name: row.name,
    manifest: (row.manifest ?? {}) as Record<string, unknown>,
    createdAt: (row.createdAt ?? new Date(0)).toISOString(),
    updatedAt: (row.updatedAt ?? new Date(0)).toISOString(),
  };
}
