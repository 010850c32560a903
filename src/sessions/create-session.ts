/**
 * POST /api/v1/sessions: pick an agent (planSession: reads only; 404/503 write nothing), then
 * write the session row and its `start_session` command in one transaction (writeSession)
 * (spec §5.3, minus the original's half-written failures).
 */
import type { Queryable } from "../db/client";
import { agentSelectLeastLoaded } from "../db/queries/agents";
import { commandInsert } from "../db/queries/commands";
import { sessionInsert } from "../db/queries/sessions";
import { templateGetByName } from "../db/queries/templates";
import type { CommandRow, SessionRow } from "../db/schema";
import { AppError } from "../errors";
import { commandDeadline } from "../lib/delivery-policy";
import type { DeliveryPolicy } from "../lib/delivery-policy";
import { newCommandId, newSessionId } from "../lib/ids";
import { detectStreaming, isEmptyManifest, minimalManifest } from "./manifest";

export type CreateSessionInput = {
  user: string;
  template: string;
  resources?: { memory?: string | undefined; cpu?: string | undefined } | undefined;
  persistentHome?: boolean | undefined;
  idleTimeout?: string | undefined;
  maxSessionDuration?: string | undefined;
  tags?: string[] | undefined;
};

export const DEFAULT_MEMORY = "2Gi";
export const DEFAULT_CPU = "1000m";
const NAMESPACE = "streamspace";
const DEFAULT_ORG = "default-org";

export type SessionPlan = {
  input: CreateSessionInput;
  agentId: string;
  platform: string;
  manifest: Record<string, unknown>;
};

/** Everything a create needs to know before writing: the template and the selected agent. */
export async function planSession(db: Queryable, input: CreateSessionInput, platform: string): Promise<SessionPlan> {
  const template = await templateGetByName(db, input.template);
  if (!template) {
    throw new AppError("not_found", "Template not found", `Template '${input.template}' does not exist in the catalog`);
  }
  const manifest = isEmptyManifest(template.manifest)
    ? minimalManifest(template.name)
    : (template.manifest as Record<string, unknown>);
  const agentId = await agentSelectLeastLoaded(db, platform);
  if (!agentId) {
    throw new AppError(
      "unavailable",
      "No agents available",
      "No online agents are currently available: no online agents available",
    );
  }
  return { input, agentId, platform, manifest };
}

/** Writes the session and its command; call inside a transaction. */
export async function writeSession(
  tx: Queryable,
  plan: SessionPlan,
  policy: DeliveryPolicy,
): Promise<{ session: SessionRow; command: CommandRow }> {
  const { input, agentId, manifest } = plan;
  const id = newSessionId(input.user, input.template);
  const memory = input.resources?.memory || DEFAULT_MEMORY;
  const cpu = input.resources?.cpu || DEFAULT_CPU;
  const persistentHome = input.persistentHome ?? true;
  const idleTimeout = input.idleTimeout ?? "";
  const maxSessionDuration = input.maxSessionDuration ?? "";
  const tags = input.tags ?? null;
  const streaming = detectStreaming(manifest);

  const session = await sessionInsert(tx, {
    id,
    userId: input.user,
    templateName: input.template,
    state: "pending",
    appType: "",
    namespace: NAMESPACE,
    platform: plan.platform,
    memory,
    cpu,
    persistentHome,
    idleTimeout,
    maxSessionDuration,
    agentId,
    tags,
    orgId: DEFAULT_ORG,
    streamingProtocol: streaming.protocol,
    streamingPort: streaming.port,
    streamingPath: streaming.path,
  });
  const command = await commandInsert(tx, {
    commandId: newCommandId(),
    agentId,
    sessionId: id,
    action: "start_session",
    expiresAt: commandDeadline(policy, "start_session"),
    maxAttempts: policy.maxAttempts,
    payload: {
      sessionId: id,
      user: input.user,
      template: input.template,
      templateManifest: manifest,
      namespace: NAMESPACE,
      memory,
      cpu,
      persistentHome,
      idleTimeout,
      maxSessionDuration,
      tags,
    },
  });
  return { session, command };
}
