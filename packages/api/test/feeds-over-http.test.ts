// Live feeds are served over the WebSocket only, where the end of a session closes the socket and the
// socket's budget bounds its feeds. Over HTTP tRPC would serve them as event streams that outlive a
// sign-out: refused however the path is spelled, and by the procedures themselves whatever the path.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createContextFromHeaders } from "../src/context.ts";
import { createCaller } from "../src/root.ts";
import { startApi, type ApiHarness } from "./harness.ts";

let api: ApiHarness;
beforeAll(async () => {
  api = await startApi({ label: "api_feeds_http" });
});
afterAll(async () => {
  await api?.close();
});

/** The answer's head only: a stream served by mistake would never end, so its body is not read. */
async function head(path: string, token: string) {
  const response = await fetch(`${api.baseUrl}${path}`, {
    headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" },
    signal: AbortSignal.timeout(10_000),
  });
  const contentType = response.headers.get("content-type") ?? "";
  type ErrorBody = { error?: { message?: string; data?: { code?: string } } };
  const body = contentType.startsWith("application/json") ? ((await response.json()) as ErrorBody) : null;
  if (!body) await response.body?.cancel();
  return { status: response.status, contentType, body };
}

describe("live feeds over HTTP", () => {
  it("are a 405, however the procedure's name is percent-encoded", async () => {
    const { token } = await api.shopper("feeds-http");
    const input = `?input=${encodeURIComponent(JSON.stringify({ lastEventId: "0" }))}`;
    const paths = [
      "orders.onStatusChange",
      "orders%2EonStatusChange",
      "orders%2eonStatusChange",
      "%6Frders.onStatusChange",
      "payments.onBalanceChange",
      "payments%2EonBalanceChange",
      "admin%2EorderFeed",
    ];
    for (const path of paths) {
      const answer = await head(`/api/trpc/${path}${path.startsWith("payments") ? "" : input}`, token);
      expect(answer.contentType, path).not.toContain("text/event-stream");
      expect(answer.status, path).toBe(405);
      expect(answer.body?.error?.data?.code, path).toBe("METHOD_NOT_SUPPORTED");
      expect(answer.body?.error?.message, path).toMatch(/WebSocket only/);
    }
    // Encoded twice, the name tRPC reads is still encoded once: no such procedure.
    const twice = await head(`/api/trpc/orders%252EonStatusChange${input}`, token);
    expect(twice.contentType).not.toContain("text/event-stream");
    expect(twice.status).toBe(404);
  });

  it("are refused by the procedures themselves on any transport but the WebSocket", async () => {
    const { token } = await api.shopper("feeds-caller");
    const ctx = await createContextFromHeaders(api.deps, { authorization: `Bearer ${token}` });
    expect(ctx.transport).toBe("http");
    const caller = createCaller(ctx);
    await expect(caller.orders.onStatusChange({ lastEventId: "0" })).rejects.toMatchObject({
      code: "METHOD_NOT_SUPPORTED",
      message: expect.stringMatching(/WebSocket only/),
    });
    await expect(caller.payments.onBalanceChange()).rejects.toMatchObject({ code: "METHOD_NOT_SUPPORTED" });
  });
});
