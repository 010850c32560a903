/**
 * POST /api/v1/sessions: pick an agent (planSession: reads only; 404/503 write nothing), then
 * write the session row and its `start_session` command in one transaction (writeSession)
 * (spec §5.3, minus the original's half-written failures).
 */
import type { Queryable } from "../db/client";
import { sessionInsertWithCommand, sessionPlanLookup } from "../db/queries/sessions";
import type { NewSession } from "../db/queries/sessions";
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
  const found = await sessionPlanLookup(db, input.template, platform);
  if (found.manifest === undefined) {
    throw new AppError("not_found", "Template not found", `Template '${input.template}' does not exist in the catalog`);
  }
  const manifest = isEmptyManifest(found.manifest)
    ? minimalManifest(input.template)
    : (found.manifest as Record<string, unknown>);
  const agentId = found.agentId;
  if (!agentId) {
    throw new AppError(
      "unavailable",
      "No agents available",
      "No online agents are currently available: no online agents available",
    );
  }
  return { input, agentId, platform, manifest };
}

/**
 * Writes the session and its command in one statement (atomic on its own; inside a transaction
 * when an Idempotency-Key needs its answer stored with them).
 */
export async function writeSession(
  db: Queryable,
  plan: SessionPlan,
  policy: DeliveryPolicy,
): Promise<{ session: SessionRow; command: CommandRow & { olderPending: boolean } }> {
  const { input, agentId, manifest } = plan;
  const id = newSessionId(input.user, input.template);
  const memory = input.resources?.memory || DEFAULT_MEMORY;
  const cpu = input.resources?.cpu || DEFAULT_CPU;
  const persistentHome = input.persistentHome ?? true;
  const idleTimeout = input.idleTimeout ?? "";
  const maxSessionDuration = input.maxSessionDuration ?? "";
  const tags = input.tags ?? null;
  const streaming = detectStreaming(manifest);

  const session = {
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
  } satisfies NewSession;
  const command = await sessionInsertWithCommand(db, session, {
    commandId: newCommandId(),
    agentId,
    sessionId: id,
    action: "start_session",
    status: "pending",
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
  // Both rows were written by one statement, so they share now(): no need to read the session back.
  return { session: sessionRowAsInserted(session, command.createdAt), command };
}

/** The row Postgres now holds for `values`, with the columns the insert left to their defaults. */
function sessionRowAsInserted(values: NewSession, createdAt: Date | null): SessionRow {
  return {
    teamId: null,
    activeConnections: 0,
    url: null,
    lastConnection: null,
    lastDisconnect: null,
    podName: null,
    lastActivity: null,
    platformMetadata: null,
    clusterId: null,
    terminationReason: null,
    terminatedAt: null,
    ...values,
    createdAt,
    updatedAt: createdAt,
  } as SessionRow;
}
