/** Real agent WebSockets through the Worker's connect endpoint, with bounded waits. */
import { env, exports } from "cloudflare:workers";
import { randomIp } from "./http";
import { makeAgent, makeTemplate } from "./db";
import type { TestAgent } from "./db";

export type AgentSocket = {
  ws: WebSocket;
  /** The next frame the server sent, parsed; fails after `timeoutMs`. */
  nextFrame(timeoutMs?: number): Promise<Record<string, any>>;
  send(frame: unknown): void;
  /** Resolves with the close code when the server closes the socket. */
  closed(timeoutMs?: number): Promise<number>;
  close(): void;
};

/**
 * Opens the agent's socket and waits until its DO finished the connect work (agent online,
 * queue drained), so a test's next step never races it.
 */
export async function connectAgent(agentId: string, apiKey: string): Promise<AgentSocket> {
  const res = await exports.default.fetch(
    `http://dispatch.test/api/v1/agents/connect?agent_id=${encodeURIComponent(agentId)}`,
    { headers: { Upgrade: "websocket", "X-Agent-API-Key": apiKey, "CF-Connecting-IP": randomIp() } },
  );
  const ws = res.webSocket;
  if (!ws) throw new Error(`upgrade refused: ${res.status} ${await res.text()}`);
  ws.accept();
  const frames: string[] = [];
  const waiters: Array<(frame: string) => void> = [];
  let closeCode: number | undefined;
  const closeWaiters: Array<(code: number) => void> = [];
  ws.addEventListener("message", (event) => {
    const data = typeof event.data === "string" ? event.data : new TextDecoder().decode(event.data as ArrayBuffer);
    const waiter = waiters.shift();
    if (waiter) waiter(data);
    else frames.push(data);
  });
  ws.addEventListener("close", (event) => {
    closeCode = event.code;
    for (const w of closeWaiters.splice(0)) w(event.code);
  });
  await settle(agentId);
  return {
    ws,
    nextFrame(timeoutMs = 5000) {
      const queued = frames.shift();
      if (queued !== undefined) return Promise.resolve(JSON.parse(queued));
      return new Promise((resolve, reject) => {
        const waiter = (data: string) => {
          clearTimeout(timer);
          resolve(JSON.parse(data));
        };
        const timer = setTimeout(() => {
          // A waiter that gave up must not swallow the next frame.
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no frame for ${agentId} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    send(frame) {
      ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
    },
    closed(timeoutMs = 5000) {
      if (closeCode !== undefined) return Promise.resolve(closeCode);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`socket for ${agentId} not closed within ${timeoutMs} ms`)), timeoutMs);
        closeWaiters.push((code) => {
          clearTimeout(timer);
          resolve(code);
        });
      });
    },
    close() {
      try {
        ws.close(1000, "test done");
      } catch {
        // already closed
      }
    },
  };
}

/** Waits for the agent's DO to finish any delivery in progress (joins it through deliver()). */
export async function settle(agentId: string): Promise<void> {
  await env.AGENT.getByName(agentId).deliver();
}

/** The usual start of a session test: template `template`, an approved agent, its socket connected. */
export async function agentReadyFor(template: string): Promise<{ agent: TestAgent; socket: AgentSocket }> {
  await makeTemplate(template);
  const agent = await makeAgent();
  return { agent, socket: await connectAgent(agent.agentId, agent.apiKey) };
}
