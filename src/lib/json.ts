/** JSON value shapes shared by the boundaries that read untyped JSON (agent frames, manifests). */

/** True for a JSON object: not null, not an array. */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
