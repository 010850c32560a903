import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { CoalescingWebSocket } from "../../src/db/coalescing-websocket";
import { eventually } from "./helpers/stack";

describe("the driver's WebSocket sends what one turn wrote as one frame", () => {
  let server: WebSocketServer;
  const frames: Buffer[] = [];
  beforeAll(async () => {
    server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    server.on("connection", (ws) => ws.on("message", (data: Buffer) => frames.push(data)));
    await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("in order, with later writes in later frames, and flushes on close", async () => {
    const { port } = server.address() as { port: number };
    const ws = new CoalescingWebSocket(`ws://127.0.0.1:${port}`);
    ws.binaryType = "arraybuffer";
    await new Promise((resolve) => ws.addEventListener("open", resolve));
    // As pg writes a query: Parse, Bind, Execute, Sync in one go.
    ws.send(Uint8Array.of(1, 2));
    ws.send(Uint8Array.of(3));
    ws.send(Uint8Array.of(4, 5, 6));
    await new Promise((resolve) => setTimeout(resolve, 10));
    ws.send(Uint8Array.of(7));
    ws.send(Uint8Array.of(8));
    ws.close();
    await eventually("two frames", async () => (frames.length >= 2 ? true : undefined), 5_000);
    expect(frames.map((f) => [...f])).toEqual([
      [1, 2, 3, 4, 5, 6],
      [7, 8],
    ]);
  });
});
