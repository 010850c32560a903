/** The validation hook every OpenAPI router uses: a failed schema becomes a 400 AppError. */
import type { Hook } from "@hono/zod-openapi";
import { AppError } from "../errors";
import type { AppEnv } from "../env";

export const validationHook: Hook<unknown, AppEnv, string, unknown> = (result) => {
  if (result.success) return;
  const issues = result.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
  const summary = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ");
  // `fields` is the original's shape (field → problem, spec §1.4); `issues` keeps every one in order.
  const fields = Object.fromEntries(issues.map((i) => [i.path || "body", i.message]));
  throw new AppError("bad_request", "Validation failed", summary, { issues, fields });
};
