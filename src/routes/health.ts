/** GET /healthz: 200 when the database answers, 503 otherwise. */
import { Hono } from "hono";
import { dbPing } from "../db/queries/health";
import type { AppEnv } from "../env";
import { AppError } from "../errors";

export function healthRoutes() {
  const app = new Hono<AppEnv>();
  app.get("/healthz", async (c) => {
    try {
      await dbPing(c.var.db);
    } catch (err) {
      throw new AppError("unavailable", "Service unavailable", "The database is not reachable.", { database: "down" }, { cause: err });
    }
    return c.json({ status: "ok", database: "ok" });
  });
  return app;
}
