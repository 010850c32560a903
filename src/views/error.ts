/** The error body every 4xx/5xx answer has (see errors.ts), as an OpenAPI schema. */
import { z } from "@hono/zod-openapi";

export const ErrorSchema = z
  .object({
    error: z.string().openapi({ example: "Session not found" }),
    code: z.string().openapi({ example: "not_found" }),
    message: z.string(),
    requestId: z.string(),
  })
  .passthrough()
  .openapi("Error");

/** Response entries for the errors a route can answer with. */
type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 429 | 503;

export function errorResponses<S extends ErrorStatus>(...statuses: S[]) {
  const descriptions = {
    400: "Invalid input",
    401: "Not authenticated",
    403: "Not allowed",
    404: "Not found",
    409: "Conflicts with the current state",
    429: "Rate limited",
    503: "Unavailable",
  } as const;
  return Object.fromEntries(
    statuses.map((s) => [s, { description: descriptions[s], content: { "application/json": { schema: ErrorSchema } } }]),
  ) as unknown as Record<S, { description: string; content: { "application/json": { schema: typeof ErrorSchema } } }>;
}
