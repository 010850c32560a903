/**
 * Agent registration over HTTP, including the wait for administrator approval that a
 * bootstrap-key registration may need before the WebSocket will be accepted.
 */
import { z } from "zod";
import { sleep } from "./backoff";
import type { JsonObject, RegistrationPolicy } from "./dialect";

/** Header carrying the agent's API key, on register and on connect. */
export const API_KEY_HEADER = "X-Agent-API-Key";

/** What k8s-agent accepts and follows; the default when no dialect says otherwise. */
const DEFAULT_POLICY: RegistrationPolicy = { acceptedStatuses: new Set([200, 201, 202]), followsApproval: true };

/**
 * Accepts both response forms: a plain Agent (which also carries `approvalStatus` at the top
 * level) and the `{agent, approvalStatus, message, apiKey?}` wrapper.
 */
const RegisterResponse = z.looseObject({
  approvalStatus: z.string().optional(),
  message: z.string().optional(),
  apiKey: z.string().optional(),
});

/** Thrown when registration fails; the caller retries after its reconnect backoff. */
export class RegistrationError extends Error {
  override readonly name = "RegistrationError";
  constructor(
    message: string,
    /** HTTP status, when the server answered at all. */
    readonly status?: number,
  ) {
    super(message);
  }
}

/** `ws://h/p` → `http://h/p`, `wss://` → `https://`; keeps any path prefix, drops query. */
export function httpBaseUrl(wsUrl: string): string {
  const url = new URL(wsUrl);
  if (url.protocol === "ws:") url.protocol = "http:";
  else if (url.protocol === "wss:") url.protocol = "https:";
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

/** The WebSocket endpoint for `agentId` under the control plane at `wsUrl`. */
export function connectUrl(wsUrl: string, agentId: string): string {
  const url = new URL(wsUrl);
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, "")}/api/v1/agents/connect?agent_id=${encodeURIComponent(agentId)}`;
}

/** Inputs of {@link registerAgent}. */
export interface RegisterParams {
  /** Control plane WebSocket URL (`ws://…` or `wss://…`). */
  url: string;
  apiKey: string;
  body: JsonObject;
  /** Delay between re-registrations while approval is pending. */
  approvalPollMs: number;
  /** Aborting ends the wait and the request; the promise then rejects. */
  signal: AbortSignal;
  /** Called before each wait for approval. */
  onPending?: (message: string) => void;
  /** Injectable for tests; defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Which statuses count as registered and whether approval is followed; default k8s-agent's. */
  policy?: RegistrationPolicy;
}

/** Outcome of a successful registration. */
export interface RegisterResult {
  /** Key to use from now on: the server's new one if it sent one, else the one we had. */
  apiKey: string;
  /** "" when the server did not say (plain Agent without the field). */
  approvalStatus: string;
  /** The decoded response body. */
  response: JsonObject;
}

/**
 * Registers, re-POSTing every `approvalPollMs` while the server says "pending" (when the policy
 * follows approval). Resolves once registered; rejects with {@link RegistrationError} on
 * rejection, a status outside the policy's or an unreadable body, and with the abort reason
 * when `signal` fires.
 */
export async function registerAgent(params: RegisterParams): Promise<RegisterResult> {
  const doFetch = params.fetch ?? fetch;
  const policy = params.policy ?? DEFAULT_POLICY;
  const endpoint = `${httpBaseUrl(params.url)}/api/v1/agents/register`;
  let apiKey = params.apiKey;
  for (;;) {
    const res = await doFetch(endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/json", [API_KEY_HEADER]: apiKey },
      body: JSON.stringify(params.body),
      signal: params.signal,
    });
    const text = await res.text();
    const decoded = decode(text);
    if (!policy.acceptedStatuses.has(res.status)) {
      const detail = decoded?.approvalStatus === "rejected" ? "registration rejected" : snippet(text);
      throw new RegistrationError(`register failed: HTTP ${res.status}: ${detail}`, res.status);
    }
    if (!decoded) throw new RegistrationError(`register: unreadable response body: ${snippet(text)}`, res.status);
    // docker-agent decodes the body only to log it: it keeps its key and knows no approval.
    if (!policy.followsApproval) return { apiKey, approvalStatus: "", response: decoded };
    // A freshly issued key replaces the bootstrap key for every later request.
    if (decoded.apiKey) apiKey = decoded.apiKey;
    const approvalStatus = decoded.approvalStatus ?? "";
    if (approvalStatus === "rejected") {
      throw new RegistrationError(`registration rejected: ${decoded.message ?? ""}`.trim(), res.status);
    }
    if (approvalStatus !== "pending") return { apiKey, approvalStatus, response: decoded };
    params.onPending?.(decoded.message ?? "waiting for administrator approval");
    await sleep(params.approvalPollMs, params.signal);
    params.signal.throwIfAborted();
  }
}

function decode(text: string): (z.infer<typeof RegisterResponse> & JsonObject) | null {
  try {
    const parsed = RegisterResponse.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat || "(empty body)";
}
