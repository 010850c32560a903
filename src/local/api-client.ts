/**
 * A JSON client for the Worker's HTTP API, for the Node-side tests and the bench: the bearer
 * token and body as the API expects them, the answer parsed when it is JSON (a workerd error
 * page is kept as text, so a failure says what came back).
 */
export type ApiCall = (
  method: string,
  path: string,
  opts?: { token?: string; body?: unknown },
) => Promise<{ status: number; body: any }>;

/** `baseUrl` is read on every call: a restarted Worker may listen elsewhere. */
export function apiClient(baseUrl: () => string): ApiCall {
  return async (method, path, opts = {}) => {
    const headers: Record<string, string> = {};
    if (opts.token) headers["Authorization"] = `Bearer ${opts.token}`;
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(baseUrl() + path, {
      method,
      headers,
      body: opts.body === undefined ? null : JSON.stringify(opts.body),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text for the error message
    }
    return { status: res.status, body };
  };
}
