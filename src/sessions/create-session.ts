/**
 * POST /api/v1/sessions: pick the least-loaded agent and write the session with its
 * `start_session` command, all in one statement (spec §5.3, minus the original's half-written
 * failures). A missing template (404) or no selectable agent (503) writes nothing.
 */
import type { Queryable } from "../db/client";
import { sessionCreateWithCommand } from "../db/queries/session-create";
import type { CommandRow, SessionRow } from "../db/schema";
import { AppError, isOutcomeUnknown, isUniqueViolation } from "../errors";
import { commandDeadline } from "../lib/delivery-policy";
import type { DeliveryPolicy } from "../lib/delivery-policy";
import { newCommandId, newSessionId } from "../lib/ids";
import { STREAMING_BY_IMAGE, STREAMING_FALLBACK, minimalManifest } from "./manifest";

export type CreateSessionInput = {
  user: string;
  template: string;
  /** Null is absent, as in the original's decoder. */
  resources?: { memory?: string | null | undefined; cpu?: string | null | undefined } | null | undefined;
  persistentHome?: boolean | null | undefined;
  idleTimeout?: string | null | undefined;
  maxSessionDuration?: string | null | undefined;
  tags?: string[] | null | undefined;
};

export const DEFAULT_MEMORY = "2Gi";
export const DEFAULT_CPU = "1000m";
const NAMESPACE = "streamspace";
const DEFAULT_ORG = "default-org";

/** The created session as stored, and its command as the DO fast path needs it. */
export type CreatedSession = {
  session: SessionRow;
  command: Pick<CommandRow, "commandId" | "action" | "payload"> & { olderPendingIds: string[] };
};

/** The session's primary key: the generated name (spec §5.3), 32 random bits per user and template. */
const SESSION_NAME_KEY = "sessions_pkey";

/**
 * Creates the session, under a fresh name if the first one drawn is taken (a user with tens of
 * thousands of sessions of one template makes that likely) and `db` is not inside a transaction:
 * the failed statement wrote nothing. Inside one (an Idempotency-Key) the collision aborts it:
 * 503, retry the request.
 */
export async function createSession(
  db: Queryable,
  input: CreateSessionInput,
  platform: string,
  policy: DeliveryPolicy,
  inTransaction: boolean,
): Promise<CreatedSession> {
  checkResources(input.resources);
  try {
    return await createOnce(db, input, platform, policy);
  } catch (err) {
    if (!isUniqueViolation(err, SESSION_NAME_KEY)) throw err;
    if (!inTransaction) return createOnce(db, input, platform, policy);
    throw new AppError("unavailable", "Session name taken", "The session name drawn for this request was taken; nothing was written. Retry the request.", {}, { cause: err });
  }
}

/**
 * A Kubernetes resource quantity (`2Gi`, `500m`, `0.5`, `1e3`): what the agent will put in the
 * pod spec, which Kubernetes would refuse long after this request was answered (spec §5.3 step 4).
 */
const QUANTITY = /^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[numkMGTPE]|[KMGTPE]i)?$/;

function checkResources(resources: CreateSessionInput["resources"]): void {
  for (const [name, value] of Object.entries(resources ?? {})) {
    if (value && !QUANTITY.test(value)) {
      throw new AppError("bad_request", "Invalid resource request", `${name} '${value}' is not a Kubernetes quantity (such as 2Gi, 512Mi, 1000m or 0.5)`, {
        field: `resources.${name}`,
      });
    }
  }
}

async function createOnce(
  db: Queryable,
  input: CreateSessionInput,
  platform: string,
  policy: DeliveryPolicy,
): Promise<CreatedSession> {
  const session = {
    id: newSessionId(input.user, input.template),
    userId: input.user,
    templateName: input.template,
    namespace: NAMESPACE,
    platform,
    memory: input.resources?.memory || DEFAULT_MEMORY,
    cpu: input.resources?.cpu || DEFAULT_CPU,
    persistentHome: input.persistentHome ?? true,
    idleTimeout: input.idleTimeout ?? "",
    maxSessionDuration: input.maxSessionDuration ?? "",
    tags: input.tags ?? null,
    orgId: DEFAULT_ORG,
  };
  const commandId = newCommandId();
  const result = await sessionCreateWithCommand(db, {
    session,
    command: {
      commandId,
      expiresAt: commandDeadline(policy, "start_session"),
      maxAttempts: policy.maxAttempts,
      // templateManifest is added by the statement, from the template it reads.
      payload: {
        sessionId: session.id,
        user: input.user,
        template: input.template,
        namespace: NAMESPACE,
        memory: session.memory,
        cpu: session.cpu,
        persistentHome: session.persistentHome,
        idleTimeout: session.idleTimeout,
        maxSessionDuration: session.maxSessionDuration,
        tags: session.tags,
      },
    },
    minimalManifest: minimalManifest(input.template),
    streamingRules: STREAMING_BY_IMAGE,
    streamingFallback: STREAMING_FALLBACK,
  }).catch((err: unknown) => {
    // The session may exist: name it, so the client can look before it creates another.
    if (!isOutcomeUnknown(err)) throw err;
    throw new AppError(
      "unavailable",
      "Service unavailable",
      `No answer came from the database: session ${session.id} may have been created. GET /api/v1/sessions/${session.id} before retrying (a request with an Idempotency-Key can be retried with the same key).`,
      { outcome: "unknown", sessionId: session.id },
      { cause: err },
    );
  });
  if (!result.templateFound) {
    throw new AppError("not_found", "Template not found", `Template '${input.template}' does not exist in the catalog`);
  }
  const { agentId, created } = result;
  if (!agentId || !created) {
    throw new AppError(
      "unavailable",
      "No agents available",
      "No online agents are currently available: no online agents available",
    );
  }
  const row: SessionRow = {
    ...session,
    state: "pending",
    appType: "",
    agentId,
    teamId: null,
    activeConnections: 0,
    url: null,
    lastConnection: null,
    lastDisconnect: null,
    snapshotConfig: {},
    controllerId: null,
    podName: null,
    lastActivity: null,
    platformMetadata: null,
    clusterId: null,
    terminationReason: null,
    terminatedAt: null,
    streamingProtocol: created.streaming.protocol,
    streamingPort: created.streaming.port,
    streamingPath: created.streaming.path,
    createdAt: created.createdAt,
    updatedAt: created.createdAt,
  };
  return {
    session: row,
    command: { commandId, action: "start_session", payload: created.payload, olderPendingIds: created.olderPendingIds },
  };
}
