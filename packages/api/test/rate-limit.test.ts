import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApi, strongPassword, uniqueEmail, type ApiHarness } from "./harness.ts";

const PER_EMAIL = 3;
const PER_IP = 6;

let api: ApiHarness;
beforeAll(async () => {
  api = await startApi({
    label: "api_ratelimit",
    trustProxy: true,
    rateLimits: {
      loginFailuresPerEmail: { points: PER_EMAIL, durationSeconds: 60 },
      loginFailuresPerIp: { points: PER_IP, durationSeconds: 60 },
      registerPerEmail: { points: 2, durationSeconds: 60 },
    },
  });
});
afterAll(async () => {
  await api?.close();
});

let nextIp = 10;
/** Each test speaks from its own client IP (the harness trusts X-Forwarded-For). */
const fromNewIp = () => ({ "x-forwarded-for": `198.51.100.${nextIp++}` });

const login = (email: string, password: string, ip: Record<string, string>) =>
  api.request("/api/v1/auth/login", { method: "POST", json: { email, password }, headers: ip });

describe("login rate limits", () => {
  it(`after ${PER_EMAIL} failed logins for one email the next is 429 with Retry-After`, async () => {
    const ip = fromNewIp();
    const email = uniqueEmail("victim");
    const password = strongPassword();
    await api.rest.register(email, password);

    for (let i = 0; i < PER_EMAIL; i++) expect((await login(email, "wrong-password", ip)).status).toBe(401);
    const limited = await login(email, "wrong-password", ip);
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.body.error).toMatchObject({ code: "TOO_MANY_REQUESTS", retryAfterSeconds: retryAfter });

    // Even the right password waits, from any IP: the email is locked for the window.
    expect((await login(email, password, fromNewIp())).status).toBe(429);
    // Redis holds the counters under this run's prefix.
    expect(await api.deps.redis.keys(`${api.redisPrefix}:rl:login-email*`)).not.toHaveLength(0);
  });

  it(`after ${PER_IP} failed logins from one IP (any emails) the next is 429`, async () => {
    const ip = fromNewIp();
    const email = uniqueEmail("ipuser");
    const password = strongPassword();
    await api.rest.register(email, password);
    for (let i = 0; i < PER_IP; i++)
      expect((await login(uniqueEmail("guess"), "wrong-password", ip)).status).toBe(401);
    const limited = await login(email, password, ip);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toMatch(/^\d+$/);
    // Another client is not affected.
    expect((await login(email, password, fromNewIp())).status).toBe(200);
  });

  it("a successful login clears the email's failures", async () => {
    const ip = fromNewIp();
    const email = uniqueEmail("forgetful");
    const password = strongPassword();
    await api.rest.register(email, password);
    for (let i = 0; i < PER_EMAIL - 1; i++) expect((await login(email, "nope-nope", ip)).status).toBe(401);
    expect((await login(email, password, ip)).status).toBe(200);
    for (let i = 0; i < PER_EMAIL - 1; i++) expect((await login(email, "nope-nope", ip)).status).toBe(401);
    expect((await login(email, password, ip)).status).toBe(200);
  });

  it("tRPC answers 429 with Retry-After too", async () => {
    const ip = fromNewIp();
    const email = uniqueEmail("trpc-limited");
    const call = () =>
      api.request("/api/trpc/auth.login", {
        method: "POST",
        json: { email, password: "wrong-pass" },
        headers: ip,
      });
    for (let i = 0; i < PER_EMAIL; i++) expect((await call()).status).toBe(401);
    const limited = await call();
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(limited.body.error.data).toMatchObject({ code: "TOO_MANY_REQUESTS" });
  });
});

describe("register rate limits", () => {
  it("registration attempts for one email are limited", async () => {
    const ip = fromNewIp();
    const email = uniqueEmail("spam");
    const register = () =>
      api.request("/api/v1/auth/register", {
        method: "POST",
        json: { email, password: strongPassword() },
        headers: ip,
      });
    expect((await register()).status).toBe(201);
    expect((await register()).status).toBe(409);
    const limited = await register();
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toMatch(/^\d+$/);
  });
});
