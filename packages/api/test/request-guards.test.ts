import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACCESS_COOKIE, REFRESH_COOKIE } from "../src/cookies.ts";
import { startApi, strongPassword, uniqueEmail, type ApiHarness } from "./harness.ts";

let api: ApiHarness;
/** The signed-in shopper's cookies, as a browser would send them. */
let cookie: string;
let token: string;
beforeAll(async () => {
  api = await startApi({ label: "api_guards" });
  const session = await api.rest.register(uniqueEmail("csrf"), strongPassword());
  token = session.body.accessToken;
  const setCookies = session.headers.getSetCookie().map((value) => value.split(";")[0]);
  cookie = setCookies.join("; ");
  expect(cookie).toContain(`${ACCESS_COOKIE}=`);
  expect(cookie).toContain(`${REFRESH_COOKIE}=`);
});
afterAll(async () => {
  await api?.close();
});

const own = () => new URL(api.baseUrl).origin;
const createOrder = (
  headers: Record<string, string>,
  body = JSON.stringify({ amount: 100, description: "x" }),
) => api.request("/api/v1/orders", { method: "POST", headers: { cookie, ...headers }, body });
const createAccountTrpc = (headers: Record<string, string>, body?: string) =>
  api.request("/api/trpc/payments.createAccount", { method: "POST", headers: { cookie, ...headers }, body });

describe("cross-site request forgery", () => {
  it("a cookie-authenticated mutation from another origin is 403, REST and tRPC, and changes nothing", async () => {
    const json = { "content-type": "application/json" };
    const fromEvil = await createOrder({ ...json, origin: "http://evil.example" });
    expect(fromEvil.status).toBe(403);
    expect(fromEvil.body.error).toMatchObject({ code: "FORBIDDEN" });
    const crossSite = await createOrder({ ...json, "sec-fetch-site": "cross-site" });
    expect(crossSite.status).toBe(403);
    const sameSite = await createOrder({ ...json, "sec-fetch-site": "same-site" });
    expect(sameSite.status).toBe(403);
    const trpc = await createAccountTrpc({ ...json, origin: "https://evil.example" });
    expect(trpc.status).toBe(403);
    expect(await api.countRows("orders.orders")).toBe(0);
    expect(await api.countRows("payments.accounts")).toBe(0);
  });

  it("form posts (multipart, text/plain, urlencoded) with the cookie are 415, even from our own origin", async () => {
    const form = new FormData();
    form.set("amount", "100");
    form.set("description", "x");
    const multipart = await api.request("/api/v1/orders", {
      method: "POST",
      headers: { cookie, origin: own() },
      body: form,
    });
    expect(multipart.status).toBe(415);
    for (const contentType of ["text/plain", "application/x-www-form-urlencoded"]) {
      const response = await createOrder({ "content-type": contentType, origin: own() });
      expect(response.status, contentType).toBe(415);
      expect(response.body.error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
    }
    const trpcText = await createAccountTrpc({ "content-type": "text/plain" }, "{}");
    expect(trpcText.status).toBe(415);
    expect(await api.countRows("orders.orders")).toBe(0);
    expect(await api.countRows("payments.accounts")).toBe(0);
  });

  it("our own pages (same origin, JSON) and bearer-token clients from anywhere still work", async () => {
    const json = { "content-type": "application/json" };
    expect((await createOrder({ ...json, origin: own(), "sec-fetch-site": "same-origin" })).status).toBe(201);
    expect((await createOrder({ ...json, "sec-fetch-site": "same-origin" })).status).toBe(201);
    const bearer = await api.request("/api/v1/orders", {
      method: "POST",
      json: { amount: 100, description: "api client" },
      headers: { authorization: `Bearer ${token}`, origin: "http://tool.example" },
    });
    expect(bearer.status).toBe(201);
    // Reads are not mutations: a cross-site GET is left to SameSite and CORS.
    const list = await api.request("/api/v1/orders", { headers: { cookie, "sec-fetch-site": "cross-site" } });
    expect(list.status).toBe(200);
    expect(await api.countRows("orders.orders")).toBe(3);
  });

  it("an Authorization header a browser adds by itself (Basic, behind a gateway) exempts nothing", async () => {
    // A session of its own: the check at the end spends its refresh token.
    const session = await api.rest.register(uniqueEmail("basic"), strongPassword());
    const cookies = session.headers
      .getSetCookie()
      .map((value) => value.split(";")[0])
      .join("; ");
    const basic = { authorization: `Basic ${Buffer.from("gateway:secret").toString("base64")}` };
    // A form on another site posting the sign-out, the browser adding the gateway's credentials.
    const logout = await api.request("/api/v1/auth/logout", {
      method: "POST",
      headers: { cookie: cookies, ...basic, origin: "http://evil.example", "content-type": "text/plain" },
    });
    expect(logout.status).toBe(403);
    const form = await api.request("/api/v1/auth/logout", {
      method: "POST",
      headers: { cookie: cookies, ...basic, origin: own(), "content-type": "text/plain" },
    });
    expect(form.status).toBe(415);
    // A read with the gateway's header is signed in by the cookie, as without it.
    const me = await api.request("/api/v1/auth/me", { headers: { cookie: cookies, ...basic } });
    expect(me.status).toBe(200);
    // The session is still there: its refresh token still rotates.
    const refreshed = await api.request("/api/v1/auth/refresh", {
      method: "POST",
      headers: { cookie: cookies, origin: own(), "content-type": "application/json" },
      body: "{}",
    });
    expect(refreshed.status).toBe(200);
  });

  it("a sign-in posted from another site is refused too (login CSRF)", async () => {
    const response = await api.request("/api/v1/auth/login", {
      method: "POST",
      json: { email: uniqueEmail(), password: strongPassword() },
      headers: { origin: "http://evil.example" },
    });
    expect(response.status).toBe(403);
  });
});

describe("ALLOWED_ORIGINS", () => {
  it("replaces the default (the request's own origin) with the listed origins", async () => {
    const shop = "https://shop.example";
    const other = await startApi({
      label: "api_origins",
      env: { ALLOWED_ORIGINS: `${shop}, http://admin.example` },
    });
    try {
      const login = (origin: string) =>
        other.request("/api/v1/auth/login", {
          method: "POST",
          json: { email: uniqueEmail(), password: strongPassword() },
          headers: { origin },
        });
      expect((await login(shop)).status).toBe(401); // allowed through; wrong credentials
      expect((await login("http://admin.example")).status).toBe(401);
      expect((await login(new URL(other.baseUrl).origin)).status).toBe(403);
      expect((await login("https://shop.example.evil.example")).status).toBe(403);
    } finally {
      await other.close();
    }
  });
});

/** Sends `count` requests with a `bodyBytes` JSON-typed body on ONE connection; resolves to each status. */
function keepAliveOversized(path: string, bodyBytes: number, count: number) {
  const { hostname, port } = new URL(api.baseUrl);
  const body = Buffer.alloc(bodyBytes, "a");
  return new Promise<number[]>((resolve, reject) => {
    const statuses: number[] = [];
    const socket = net.connect(Number(port), hostname);
    let buffer = Buffer.alloc(0);
    const send = () => {
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/json\r\n` +
          `Authorization: Bearer ${token}\r\nContent-Length: ${body.length}\r\nConnection: keep-alive\r\n\r\n`,
      );
      socket.write(body);
    };
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const headEnd = buffer.indexOf("\r\n\r\n");
        if (headEnd < 0) return;
        const head = buffer.subarray(0, headEnd).toString("latin1");
        const length = Number(/^content-length:\s*(\d+)/im.exec(head)?.[1] ?? 0);
        if (buffer.length < headEnd + 4 + length) return;
        const responseBody = buffer.subarray(headEnd + 4, headEnd + 4 + length).toString("utf8");
        buffer = buffer.subarray(headEnd + 4 + length);
        const status = Number(head.split(" ")[1]);
        if (status === 413) expect(JSON.parse(responseBody)).toBeTypeOf("object");
        statuses.push(status);
        if (statuses.length === count) {
          socket.end();
          return resolve(statuses);
        }
        send();
      }
    });
    socket.on("error", (error) => reject(new Error(`after ${statuses.length} responses: ${error.message}`)));
    socket.on("close", () => {
      if (statuses.length < count) reject(new Error(`connection closed after ${statuses.length} responses`));
    });
    send();
  });
}

describe("a too-large body", () => {
  it("gets its JSON 413 over one keep-alive connection, 100 times in a row (REST)", async () => {
    const statuses = await keepAliveOversized("/api/v1/orders", 2 * 1024 * 1024, 100);
    expect(statuses).toEqual(Array(100).fill(413));
  }, 120_000);

  it("and over tRPC", async () => {
    const statuses = await keepAliveOversized("/api/trpc/orders.create", 2 * 1024 * 1024, 20);
    expect(statuses).toEqual(Array(20).fill(413));
  }, 60_000);
});
