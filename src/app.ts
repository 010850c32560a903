/** The Hono app: middleware order, route mounts, the error mapper and the OpenAPI document. */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./env";
import { AppError, toErrorResponse } from "./errors";
import { requestContext } from "./middleware/context";
import { requireAdmin, requireUser } from "./middleware/user-auth";
import { adminAgentRoutes } from "./routes/admin-agents";
import { adminCommandRoutes } from "./routes/admin-commands";
import { adminTemplateRoutes } from "./routes/admin-templates";
import { agentRoutes } from "./routes/agents";
import { healthRoutes } from "./routes/health";
import { sessionRoutes } from "./routes/sessions";

export function createApp() {
  const app = new OpenAPIHono<AppEnv>();

  app.use("*", requestContext());
  // Hono's "/x/*" matches "/x" itself too: one registration, one token check per request.
  app.use("/api/v1/sessions/*", requireUser());
  app.use("/api/v1/admin/*", requireUser(), requireAdmin());

  app.route("/", healthRoutes());
  app.route("/api/v1/agents", agentRoutes());
  app.route("/api/v1/sessions", sessionRoutes());
  app.route("/api/v1/admin/agents", adminAgentRoutes());
  app.route("/api/v1/admin", adminCommandRoutes());
  app.route("/api/v1/admin", adminTemplateRoutes());

  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: { title: "edge-dispatch", version: "0.1.0", description: "StreamSpace-compatible command dispatcher" },
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });

  app.notFound((c) => toErrorResponse(new AppError("not_found", "Not found", `No route for ${c.req.method} ${c.req.path}`), c));
  app.onError((err, c) => toErrorResponse(err, c));
  return app;
}
