import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReferenceAgent } from "../../src/local/agent/agent";
import { CommandLedger } from "../../src/local/agent/command-ledger";
import { CommandRunner } from "../../src/local/agent/command-runner";
import type { CommandContext, OutboundFrame } from "../../src/local/agent/dialect";
import { frameFields, getDialect } from "../../src/local/agent/dialect";
import {
  DOCKER_REGISTRATION,
  SimulatedDockerHost,
  createDockerDialect,
  dockerControlReply,
  handleDockerCommand,
  parseDockerServerMessage,
} from "../../src/local/agent/docker-dialect";
import { k8sControlReply } from "../../src/local/agent/k8s-dialect";
import { RegistrationError, registerAgent } from "../../src/local/agent/register";
import { ReplicaSet } from "../../src/local/agent/replica-set";
import { agentOnline, eventually, startStack } from "./helpers/stack";
import type { Stack } from "./helpers/stack";

const NOW = new Date("2026-01-01T00:00:00.750Z");
const NOW_S = Math.floor(NOW.getTime() / 1000);
const ctx: CommandContext = { now: () => NOW, random: () => 0.5 };
const MANIFEST = { metadata: { name: "t" }, spec: { baseImage: "x" } };
const START = { sessionId: "s1", user: "u", templateManifest: MANIFEST };

function run(action: string, payload: Record<string, unknown>, host = new SimulatedDockerHost()) {
  return handleDockerCommand({ commandId: "c1", action, payload }, ctx, host);
}

describe("the reference agent's docker dialect", () => {
  it("registers like docker-agent and accepts only 200/201", () => {
    const dialect = getDialect("docker");
    expect(dialect.registrationBody({ agentId: "d1", platform: "docker", region: "eu" })).toEqual({
      agentId: "d1",
      platform: "docker",
      region: "eu",
      capacity: { maxCpu: 100, maxMemory: 128, maxSessions: 100 },
      metadata: { dockerHost: "unix:///var/run/docker.sock", networkName: "streamspace", volumeDriver: "local" },
    });
    expect([...dialect.registration.acceptedStatuses]).toEqual([200, 201]);
    expect(dialect.registration.followsApproval).toBe(false);
  });

  it("heartbeats with an integer Unix-seconds timestamp and sends no ack", () => {
    const dialect = createDockerDialect();
    const hb = dialect.heartbeatFrame(3, NOW);
    expect(hb).toEqual({
      type: "heartbeat",
      timestamp: NOW_S,
      payload: { status: "online", activeSessions: 3, capacity: { maxCpu: 100, maxMemory: 128, maxSessions: 100 } },
    });
    expect(JSON.stringify(hb)).toContain(`"timestamp":${NOW_S},`);
    expect(dialect.ackFrame("c1", NOW)).toBeNull();
  });

  it("answers start_session with a flat command_response carrying the container", () => {
    const host = new SimulatedDockerHost();
    const out = run("start_session", START, host);
    expect(out.frames).toEqual([out.final]);
    expect(out.final).toEqual({
      type: "command_response",
      success: true,
      sessionId: "s1",
      status: "running",
      container: { id: "8".repeat(64), ip: "172.18.0.2" },
      timestamp: NOW_S,
    });
    expect(out).toMatchObject({ ok: true, sessionDelta: 1 });
    expect(host.size).toBe(1);
    // The next container gets the next address; a second start of the same session conflicts.
    expect(run("start_session", { ...START, sessionId: "s2" }, host).final).toMatchObject({ container: { ip: "172.18.0.3" } });
    const again = run("start_session", START, host);
    expect(again).toMatchObject({ ok: false, sessionDelta: 0, final: { type: "command_response", success: false, sessionId: "s1" } });
    expect(String(frameFields(again.final)["error"])).toMatch(/^Failed to create container: .*Conflict\. The container name "\/streamspace-s1" is already in use/);
  });

  it("fails invalid start_session payloads with command_error, in docker-agent's order", () => {
    const cases: [Record<string, unknown>, string][] = [
      [{}, "command failed: sessionId not found in payload"],
      [{ sessionId: "", user: "u" }, "command failed: sessionId not found in payload"],
      [{ sessionId: "s1", user: 7 }, "command failed: user not found in payload"],
      [{ sessionId: "s1", user: "u" }, "command failed: failed to parse template: templateManifest not found in payload"],
      [{ sessionId: "s1", user: "u", templateManifest: "x" }, "command failed: failed to parse template: templateManifest has invalid type: string"],
      [{ sessionId: "s1", user: "u", templateManifest: { metadata: {} } }, "command failed: failed to parse template: invalid template spec"],
      [{ sessionId: "s1", user: "u", templateManifest: { spec: {}, metadata: [] } }, "command failed: failed to parse template: invalid template metadata"],
    ];
    for (const [payload, error] of cases) {
      const out = run("start_session", payload);
      // Exactly these keys: no payload, no timestamp.
      expect(out.final).toStrictEqual({ type: "command_error", commandId: "c1", error });
      expect(out).toMatchObject({ ok: false, sessionDelta: 0 });
    }
  });

  it("stops only sessions it started, and reports the others as command_response failures", () => {
    const host = new SimulatedDockerHost();
    expect(run("stop_session", { sessionId: "s1" }, host)).toMatchObject({
      ok: false,
      sessionDelta: 0,
      final: {
        type: "command_response",
        success: false,
        sessionId: "s1",
        error: "Container not found: container not found for session: s1",
        timestamp: NOW_S,
      },
    });
    run("start_session", START, host);
    const stopped = run("stop_session", { sessionId: "s1" }, host);
    expect(stopped.final).toEqual({ type: "command_response", success: true, sessionId: "s1", status: "terminated", timestamp: NOW_S });
    expect(stopped).toMatchObject({ ok: true, sessionDelta: -1 });
    expect(host.size).toBe(0);
    expect(run("stop_session", {}, host).final).toStrictEqual({
      type: "command_error",
      commandId: "c1",
      error: "command failed: sessionId not found in payload",
    });
  });

  it("fails hibernate, wake and unknown actions with command_error", () => {
    expect(run("hibernate_session", { sessionId: "s1" }).final).toStrictEqual({
      type: "command_error",
      commandId: "c1",
      error: "command failed: hibernation not yet implemented for Docker agent",
    });
    expect(run("wake_session", { sessionId: "s1" }).final).toStrictEqual({
      type: "command_error",
      commandId: "c1",
      error: "command failed: wake not yet implemented for Docker agent",
    });
    expect(run("constructor", {}).final).toStrictEqual({ type: "command_error", commandId: "c1", error: "unknown command action: constructor" });
  });

  it("decodes server messages as {type, timestamp:int64, payload}: a string timestamp loses the message", () => {
    const command = { type: "command", payload: { commandId: "c", action: "stop_session", payload: { sessionId: "s" } } };
    expect(parseDockerServerMessage(JSON.stringify(command))).toEqual({
      kind: "command",
      command: { commandId: "c", action: "stop_session", payload: { sessionId: "s" } },
    });
    expect(parseDockerServerMessage(JSON.stringify({ ...command, timestamp: 1767225600 }))).toMatchObject({ kind: "command" });
    // Why the control plane sends commands without a timestamp: docker-agent drops these.
    expect(parseDockerServerMessage(JSON.stringify({ ...command, timestamp: "2026-01-01T00:00:00Z" }))).toMatchObject({ kind: "malformed" });
    expect(parseDockerServerMessage(JSON.stringify({ ...command, timestamp: 1.5 }))).toMatchObject({ kind: "malformed" });
    expect(parseDockerServerMessage('{"type":"command"}')).toMatchObject({ kind: "malformed" });
    expect(parseDockerServerMessage('{"type":"ping"}')).toEqual({ kind: "ignored", type: "ping" });
    expect(parseDockerServerMessage('{"type":"ping","timestamp":"now"}')).toMatchObject({ kind: "malformed" });
    expect(parseDockerServerMessage("nope")).toMatchObject({ kind: "malformed" });
  });

  it("answers ping with pong and shutdown with shutdown_ack (then stops); k8s pongs with RFC 3339", () => {
    expect(dockerControlReply("ping", "d1")).toEqual({ frame: { type: "pong", agentId: "d1" }, thenStop: false });
    expect(dockerControlReply("shutdown", "d1")).toEqual({ frame: { type: "shutdown_ack", agentId: "d1" }, thenStop: true });
    expect(dockerControlReply("hello", "d1")).toBeNull();
    expect(k8sControlReply("ping", "k1", NOW)).toEqual({ frame: { type: "pong", timestamp: NOW.toISOString() }, thenStop: false });
    expect(k8sControlReply("shutdown", "k1", NOW)).toBeNull();
  });

  /** A docker-dialect command runner with no socket: what it would send is collected. */
  function dockerRunner(opts: { dedupe: boolean }) {
    const sent: OutboundFrame[] = [];
    const runner = new CommandRunner({
      dialect: createDockerDialect(),
      ledger: new CommandLedger(),
      dedupe: opts.dedupe,
      workMs: 0,
      ctx,
      signal: new AbortController().signal,
      send: (frame) => (sent.push(frame), true),
      log: () => {},
    });
    return { sent, runner };
  }

  it("runs a repeated start again, as the real docker-agent does, and answers it with the daemon's name conflict", async () => {
    const { sent, runner } = dockerRunner({ dedupe: false });
    const command = { commandId: "c1", action: "start_session", payload: START };
    expect(runner.receive(command)).toBe("new");
    await runner.idle();
    expect(runner.receive(command)).toBe("repeat_run");
    await runner.idle();
    expect(sent.map((f) => [f.type, (f as { success?: boolean }).success])).toEqual([
      ["command_response", true],
      ["command_response", false],
    ]);
    expect(String((sent[1] as { error?: string }).error)).toMatch(/Conflict\. The container name/);
    expect(runner.counts).toMatchObject({ started: 2, completed: 1, failed: 1, duplicates: 1 });
  });

  it("with --dedupe, runs commands without an ack and answers a repeat of a finished command with its final frame", async () => {
    const { sent, runner } = dockerRunner({ dedupe: true });
    const command = { commandId: "c1", action: "start_session", payload: START };
    expect(runner.receive(command)).toBe("new");
    await runner.idle();
    expect(sent.map((f) => f.type)).toEqual(["command_response"]);
    expect(runner.receive(command)).toBe("duplicate_finished");
    expect(sent).toHaveLength(2);
    expect(sent[1]).toBe(sent[0]); // resent verbatim, not a second container
    expect(runner.counts).toMatchObject({ started: 1, completed: 1, failed: 0, duplicates: 1 });
  });

  it("treats a 202 as a registration error and ignores apiKey/approvalStatus in the body", async () => {
    const reply = (status: number, body: unknown) => async () => new Response(JSON.stringify(body), { status });
    const params = { url: "ws://cp.invalid", apiKey: "a".repeat(64), body: {}, approvalPollMs: 10, signal: new AbortController().signal };
    const pending = registerAgent({ ...params, policy: DOCKER_REGISTRATION, fetch: reply(202, { approvalStatus: "pending" }) });
    await expect(pending).rejects.toThrow(RegistrationError);
    await expect(pending).rejects.toMatchObject({ status: 202 });
    const ok = await registerAgent({
      ...params,
      policy: DOCKER_REGISTRATION,
      fetch: reply(200, { approvalStatus: "pending", apiKey: "b".repeat(64) }),
    });
    expect(ok).toMatchObject({ apiKey: "a".repeat(64), approvalStatus: "" });
  });
});

const FAST = { workMs: 20, heartbeatMs: 1000, approvalPollMs: 200, backoff: { minMs: 50, maxMs: 200 } };

describe("docker-dialect agents against the Worker in workerd", () => {
  let stack: Stack;
  const cleanups: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    stack = await startStack();
  }, 120_000);
  afterAll(async () => {
    await Promise.all(cleanups.map((stop) => stop()));
    await stack?.stop();
  });

  /** Inserts a start_session as if by hand (old enough for the sweep) and runs the sweep. */
  async function sendStart(agentId: string, commandId: string, sessionId: string): Promise<void> {
    const payload = { sessionId, user: "erin", templateManifest: MANIFEST };
    await stack.sql.query(
      `insert into agent_commands (command_id, agent_id, session_id, action, payload, created_at)
       values ($1, $2, $3, 'start_session', $4, now() - interval '1 minute')`,
      [commandId, agentId, sessionId, JSON.stringify(payload)],
    );
    await stack.worker.sweep();
  }

  const online = (agentId: string) => agentOnline(stack, agentId);

  it("receives a command and answers with command_response, never an ack", async () => {
    const apiKey = await stack.makeAgent("docker-e2e", "docker");
    const received: string[] = [];
    const sent: OutboundFrame[] = [];
    const agent = new ReferenceAgent({
      agentId: "docker-e2e",
      apiKey,
      url: stack.wsUrl,
      dialect: "docker",
      ...FAST,
      heartbeatOnConnect: true,
      onCommand: (cmd) => received.push(cmd.commandId),
      onFrameSent: (frame) => sent.push(frame),
    });
    cleanups.push(() => agent.stop());
    agent.start();
    await agent.waitForState("connected");
    await online("docker-e2e");

    await sendStart("docker-e2e", "cmd-docker-1", "sess-docker-1");
    await eventually("command received", async () => (received.includes("cmd-docker-1") ? true : undefined));
    const response = await eventually("command_response sent", async () => sent.find((f) => f.type === "command_response"));
    expect(response).toMatchObject({ success: true, sessionId: "sess-docker-1", status: "running" });
    expect(Number.isInteger(response["timestamp"])).toBe(true);
    expect(sent.some((f) => f.type === "ack")).toBe(false);
    const heartbeat = sent.find((f) => f.type === "heartbeat");
    expect(Number.isInteger(heartbeat?.timestamp)).toBe(true);
  });

  it("fails over to a standby replica that then gets the commands", async () => {
    const apiKey = await stack.makeAgent("docker-ha", "docker");
    const set = new ReplicaSet(
      { agentId: "docker-ha", apiKey, url: stack.wsUrl, dialect: "docker", ...FAST },
      2,
      { takeoverMs: 50 },
    );
    cleanups.push(() => set.stop());
    set.start();
    const first = set.active;
    await first.waitForState("connected");
    expect(set.replica(1).state).toBe("idle"); // the standby makes no calls

    await set.failover();
    expect(first.state).toBe("stopped");
    expect(set.activeIndex).toBe(1);
    const second = set.active;
    await second.waitForState("connected");
    expect(set.replica(0)).not.toBe(first); // the dead one's slot holds a fresh standby
    expect(set.replica(0).state).toBe("idle");
    await online("docker-ha");

    await sendStart("docker-ha", "cmd-ha-1", "sess-ha-1");
    await eventually("the new leader got the command", async () => (second.stats().completed === 1 ? true : undefined));
    expect(first.stats().received).toBe(0);
  });

  it("without reconnect stops on the first disconnect, and a standby takes over", async () => {
    const soloKey = await stack.makeAgent("docker-solo", "docker");
    const haKey = await stack.makeAgent("docker-ha2", "docker");
    const solo = new ReferenceAgent({ agentId: "docker-solo", apiKey: soloKey, url: stack.wsUrl, dialect: "docker", reconnect: false, ...FAST });
    const set = new ReplicaSet(
      { agentId: "docker-ha2", apiKey: haKey, url: stack.wsUrl, dialect: "docker", reconnect: false, ...FAST },
      2,
      { takeoverMs: 50 },
    );
    cleanups.push(() => solo.stop(), () => set.stop());
    solo.start();
    set.start();
    const leader = set.active;
    await Promise.all([solo.waitForState("connected"), leader.waitForState("connected")]);

    await stack.restartWorker();
    await solo.waitForState("stopped");
    expect(solo.state).toBe("stopped");
    expect(solo.stats().connects).toBe(1);
    await eventually("standby took over", async () => (set.activeIndex === 1 && set.active.state === "connected" ? true : undefined));
    expect(leader.state).toBe("stopped");
  }, 20_000);
});
