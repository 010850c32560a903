/**
 * A request body over 1 MiB is refused with 413 and a JSON body before anything else reads it
 * (authentication included), whether it declares its length or arrives chunked; a chunked body
 * under the limit is read and validated as usual.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_BODY_BYTES } from "../../src/middleware/context";
import { tokenFor } from "../helpers/http";

const URL_SESSIONS = "http://dispatch.test/api/v1/sessions";

function chunked(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + 64 * 1024));
      at += 64 * 1024;
    },
  });
}

async function post(body: string | ReadableStream<Uint8Array>, headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch(
    new Request(URL_SESSIONS, { method: "POST", body, headers: { "Content-Type": "application/json", ...headers }, duplex: "half" } as RequestInit),
  );
}

describe("a request body", () => {
  it("over 1 MiB with a declared length is refused with 413 before authentication", async () => {
    const body = JSON.stringify({ user: "u", template: "t", pad: "x".repeat(MAX_BODY_BYTES) });
    const res = await post(body, { "Content-Length": String(body.length) });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: "Payload too large", code: "payload_too_large", limit: MAX_BODY_BYTES, requestId: expect.any(String) });
  });

  it("over 1 MiB sent chunked is refused with 413", async () => {
    const res = await post(chunked(JSON.stringify({ pad: "x".repeat(MAX_BODY_BYTES + 10) })));
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: "Payload too large" });
  });

  it("sent chunked under the limit is read and validated as usual", async () => {
    const token = await tokenFor("chunky");
    const res = await post(chunked(JSON.stringify({ user: "chunky" })), { Authorization: `Bearer ${token}` });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: "Missing required field" });
  });
});
