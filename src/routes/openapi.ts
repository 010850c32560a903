/** Small helpers shared by the OpenAPI route declarations. */
import type { z } from "@hono/zod-openapi";

/** `{ content: { "application/json": { schema } } }`, the shape bodies and responses take. */
export function jsonContent<T extends z.ZodType>(schema: T) {
  return { content: { "application/json": { schema } } };
}
