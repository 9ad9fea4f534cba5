import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitText } from "../src/errors.ts";
import { verifyPassword } from "../src/identity/passwords.ts";
import { startApi, strongPassword, uniqueEmail, type ApiHarness } from "./harness.ts";

const PER_PAIR = 5;
const PER_IP = 10;
const PER_EMAIL = 12;

let api: ApiHarness;
/** Every argon2 verification the API runs (the login's hash check, or the dummy one). */
let hashChecks = 0;
beforeAll(async () => {
  api = await startApi({
    label: "api_ratelimit",
    trustProxy: true,
    verifyPassword: (hash, password) => {
      hashChecks++;
      return verifyPassword(hash, password);
    },
    rateLimits: {
      loginAttemptsPerEmailAndIp: { points: PER_PAIR, durationSeconds: 60 },
      loginAttemptsPerIp: { points: PER_IP, durationSeconds: 60 },
      loginAttemptsPerEmail: { points: PER_EMAIL, durationSeconds: 60 },
      loginBackstopDelayMs: { first: 2000, max: 60_000 },
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

const statuses = (responses: Array<{ status: number }>) =>
  responses
    .map((r) => r.status)
    .reduce<Record<number, number>>((count, s) => {
      count[s] = (count[s] ?? 0) + 1;
      return count;
    }, {});

describe("login guessing", () => {
  it(`30 parallel wrong passwords from one IP run at most ${PER_PAIR} hash checks; the owner still signs in from another IP`, async () => {
    const email = uniqueEmail("victim");
    const password = strongPassword();
    await api.rest.register(email, password);
    const ip = fromNewIp();

    const before = hashChecks;
    const responses = await Promise.all(Array.from({ length: 30 }, () => login(email, "wrong-password", ip)));
    expect(hashChecks - before).toBeLessThanOrEqual(PER_PAIR);
    expect(statuses(responses)).toEqual({ 401: PER_PAIR, 429: 30 - PER_PAIR });
    const limited = responses.find((r) => r.status === 429)!;
    const retryAfter = Number(limited.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.body.error).toMatchObject({ code: "TOO_MANY_REQUESTS", retryAfterSeconds: retryAfter });
    expect(limited.body.error.message).toBe(
      `Too many sign-in attempts; try again in ${waitText(retryAfter)}`,
    );

    // Even the right password waits from that IP, and checks no hash…
    const checks = hashChecks;
    expect((await login(email, password, ip)).status).toBe(429);
    expect(hashChecks).toBe(checks);
    // …but the owner elsewhere is not locked out.
    expect((await login(email, password, fromNewIp())).status).toBe(200);
  });

  it("a tRPC batch of logins is refused whole: no hash checked", async () => {
    const email = uniqueEmail("batch");
    const n = 20;
    const before = hashChecks;
    const paths = Array.from({ length: n }, () => "auth.login").join(",");
    const input = Object.fromEntries(
      Array.from({ length: n }, (_, i) => [i, { email, password: "wrong-password" }]),
    );
    const response = await api.request(`/api/trpc/${paths}?batch=1`, {
      method: "POST",
      json: input,
      headers: fromNewIp(),
    });
    expect(response.status).toBe(400);
    expect(hashChecks).toBe(before);
    // Not even a batch of one.
    const single = await api.request(`/api/trpc/auth.login?batch=1`, {
      method: "POST",
      json: { 0: { email, password: "wrong-password" } },
      headers: fromNewIp(),
    });
    expect(single.status).toBe(400);
    expect(hashChecks).toBe(before);
  });

  it(`after ${PER_IP} attempts from one IP (any emails) the next is 429`, async () => {
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

  it("the per-email backstop slows guessing from many IPs with growing delays, never a hard lock", async () => {
    const email = uniqueEmail("spread");
    const password = strongPassword();
    await api.rest.register(email, password);
    // One guess from each of PER_EMAIL addresses uses up the email's budget for the window.
    for (let i = 0; i < PER_EMAIL; i++)
      expect((await login(email, "wrong-password", fromNewIp())).status).toBe(401);
    // The next attempt runs (the first over the budget), then each later one must wait.
    expect((await login(email, "wrong-password", fromNewIp())).status).toBe(401);
    const waiting = await login(email, password, fromNewIp());
    expect(waiting.status).toBe(429);
    expect(Number(waiting.headers.get("retry-after"))).toBeLessThanOrEqual(2);
    // After the delay the owner gets in (poll with a deadline rather than sleep a guess).
    const deadline = Date.now() + 10_000;
    const owner = fromNewIp();
    let status = 0;
    while (Date.now() < deadline && (status = (await login(email, password, owner)).status) === 429) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(status).toBe(200);
    // The delay grows: the next guess after that waits longer than the first delay.
    const afterOwner = await login(email, "wrong-password", fromNewIp());
    expect(afterOwner.status).toBe(429);
    expect(Number(afterOwner.headers.get("retry-after"))).toBeGreaterThan(2);
  });

  it("a successful login clears the (IP, email) pair's attempts", async () => {
    const ip = fromNewIp();
    const email = uniqueEmail("forgetful");
    const password = strongPassword();
    await api.rest.register(email, password);
    for (let i = 0; i < PER_PAIR - 1; i++) expect((await login(email, "nope-nope", ip)).status).toBe(401);
    expect((await login(email, password, ip)).status).toBe(200);
    for (let i = 0; i < PER_PAIR - 1; i++) expect((await login(email, "nope-nope", ip)).status).toBe(401);
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
    for (let i = 0; i < PER_PAIR; i++) expect((await call()).status).toBe(401);
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

describe("waitText", () => {
  it.each([
    [1, "1 second"],
    [45, "45 seconds"],
    [59, "59 seconds"],
    [60, "1 minute"],
    [61, "2 minutes"],
    [890, "15 minutes"],
  ])("%i s reads %s", (seconds, text) => {
    expect(waitText(seconds)).toBe(text);
  });
});
