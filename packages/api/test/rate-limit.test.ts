import { randomBytes } from "node:crypto";
import { SignJWT, decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEVICE_COOKIE } from "../src/cookies.ts";
import { waitText } from "../src/errors.ts";
import { DEVICE_TOKEN_TTL_SECONDS } from "../src/identity/device-tokens.ts";
import { digest } from "../src/identity/rate-limit.ts";
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

  it(`a password change checks the current password as a sign-in: after ${PER_PAIR} wrong ones the next is 429`, async () => {
    const email = uniqueEmail("changer");
    const password = strongPassword();
    const { body } = await api.rest.register(email, password);
    const ip = fromNewIp();
    const change = (currentPassword: string) =>
      api.request("/api/v1/auth/password", {
        method: "POST",
        json: { currentPassword, newPassword: strongPassword() },
        headers: { ...ip, ...api.bearer(body.accessToken) },
      });
    const before = hashChecks;
    for (let i = 0; i < PER_PAIR; i++) expect((await change("wrong-password")).status).toBe(400);
    const limited = await change(password);
    expect(limited.status).toBe(429);
    expect(hashChecks - before).toBe(PER_PAIR);
    // The password is the one it was.
    expect((await login(email, password, fromNewIp())).status).toBe(200);
  });

  it("a counter another hand wrote (not a number, no expiry, not a string) is dropped, not a 503 or a lock for good", async () => {
    const email = uniqueEmail("corrupt");
    const password = strongPassword();
    await api.rest.register(email, password);
    const ip = fromNewIp();
    const address = ip["x-forwarded-for"];
    const tag = `{${api.redisPrefix}}:rl`;
    await api.deps.redis.set(`${tag}:login-ip:${digest(address)}`, "abc");
    await api.deps.redis.set(`${tag}:login-pair:${digest(`${address}\n${email}`)}`, String(PER_PAIR * 100));
    // With an expiry, as a counter has: a number to Lua, yet not an integer to INCR.
    await api.deps.redis.set(`${tag}:login-email:${digest(email)}`, "4.0", "EX", 600);
    expect((await login(email, "wrong-password", ip)).status).toBe(401);
    expect((await login(email, password, ip)).status).toBe(200);
    // Counted afresh, with an expiry.
    expect(await api.deps.redis.pttl(`${tag}:login-ip:${digest(address)}`)).toBeGreaterThan(0);

    // Not even strings: a hash under the email's counter, a list under the IP's.
    const other = fromNewIp();
    const otherAddress = other["x-forwarded-for"];
    await api.deps.redis.del(`${tag}:login-email:${digest(email)}`);
    await api.deps.redis.hset(`${tag}:login-email:${digest(email)}`, "n", "1");
    await api.deps.redis.rpush(`${tag}:login-ip:${digest(otherAddress)}`, "1");
    expect((await login(email, "wrong-password", other)).status).toBe(401);
    expect((await login(email, password, other)).status).toBe(200);
    expect(await api.deps.redis.type(`${tag}:login-email:${digest(email)}`)).toBe("string");
  });

  it("an IPv6 client is counted by its /64: another address in it brings no new budget", async () => {
    const email = uniqueEmail("v6victim");
    const password = strongPassword();
    await api.rest.register(email, password);
    const network = `2001:db8:${(nextIp++).toString(16)}:7`;
    const from = (host: number) => ({ "x-forwarded-for": `${network}:0:0:0:${host.toString(16)}` });
    for (let host = 1; host <= PER_PAIR; host++) {
      expect((await login(email, "wrong-password", from(host))).status).toBe(401);
    }
    // A fresh address of the same /64, or one written out in full, is the same client.
    expect((await login(email, "wrong-password", from(PER_PAIR + 1))).status).toBe(429);
    const full = { "x-forwarded-for": `${network.replace(/:7$/, ":0007")}:ffff:ffff:ffff:ffff` };
    expect((await login(email, password, full)).status).toBe(429);
    // The next /64 is another client.
    expect(
      (await login(email, password, { "x-forwarded-for": `${network.replace(/:7$/, ":8")}::1` })).status,
    ).toBe(200);
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

describe("device cookies (OWASP: slow down online guessing)", () => {
  const BACKSTOP_AFTER = 4;
  const PER_DEVICE = 3;
  // An instance of its own whose backstop, once reached, holds for a minute (the one above lets the next
  // attempt through after 2 s): every check below runs while it delays everyone without a device cookie.
  let dev: ApiHarness;
  beforeAll(async () => {
    dev = await startApi({
      label: "api_device_cookie",
      trustProxy: true,
      rateLimits: {
        loginAttemptsPerEmailAndIp: { points: PER_PAIR, durationSeconds: 60 },
        loginAttemptsPerIp: { points: PER_IP, durationSeconds: 60 },
        loginAttemptsPerEmail: { points: BACKSTOP_AFTER, durationSeconds: 60 },
        loginBackstopDelayMs: { first: 60_000, max: 60_000 },
        loginAttemptsPerDevice: { points: PER_DEVICE, durationSeconds: 60 },
      },
    });
  });
  afterAll(async () => {
    await dev?.close();
  });

  const deviceSetCookie = (headers: Headers) =>
    headers.getSetCookie().find((cookie) => cookie.startsWith(`${DEVICE_COOKIE}=`));
  const deviceTokenOf = (headers: Headers) =>
    deviceSetCookie(headers)
      ?.split(";")[0]
      ?.slice(DEVICE_COOKIE.length + 1);
  /** A REST sign-in from `ip`, carrying `device` as the browser would (it has Path=/api). */
  const signIn = (email: string, password: string, ip: Record<string, string>, device?: string) =>
    dev.request("/api/v1/auth/login", {
      method: "POST",
      json: { email, password },
      headers: { ...ip, ...(device === undefined ? {} : { cookie: `${DEVICE_COOKIE}=${device}` }) },
    });
  /** A new account, and the device cookie of its owner's browser from a sign-in. */
  async function owner(tag: string) {
    const email = uniqueEmail(tag);
    const password = strongPassword();
    expect((await dev.rest.register(email, password)).status).toBe(201);
    const login = await signIn(email, password, fromNewIp());
    expect(login.status).toBe(200);
    const device = deviceTokenOf(login.headers);
    expect(device).toBeTruthy();
    return { email, password, device: device! };
  }
  /** Guesses, each from a new address, until the email's backstop makes the next one wait. */
  async function reachBackstop(email: string) {
    for (let i = 0; i <= BACKSTOP_AFTER + 1; i++) {
      const status = (await signIn(email, "wrong-password", fromNewIp())).status;
      if (status === 429) return;
      expect(status).toBe(401);
    }
    throw new Error("the backstop never delayed a guess");
  }

  it("the owner's browser, signed in before, signs in at once while the backstop delays everyone else", async () => {
    const { email, password, device } = await owner("owner");
    await reachBackstop(email);
    // Without the cookie even the right password waits (about a minute)…
    const waiting = await signIn(email, password, fromNewIp());
    expect(waiting.status).toBe(429);
    expect(Number(waiting.headers.get("retry-after"))).toBeGreaterThan(30);
    // …the owner's browser does not, from any address, over REST and tRPC alike.
    const rest = await signIn(email, password, fromNewIp(), device);
    expect(rest.status).toBe(200);
    expect(rest.body.user.email).toBe(email);
    const trpc = await dev.request("/api/trpc/auth.login", {
      method: "POST",
      json: { email, password },
      headers: { ...fromNewIp(), cookie: `${DEVICE_COOKIE}=${deviceTokenOf(rest.headers)}` },
    });
    expect(trpc.status).toBe(200);
    // The owner's sign-ins gave the guessers nothing back: they still wait.
    expect((await signIn(email, "wrong-password", fromNewIp())).status).toBe(429);
  });

  it("without the device cookie the backstop applies as before, even from the owner's own address", async () => {
    const { email, password } = await owner("cookieless");
    const home = fromNewIp();
    const signedIn = await signIn(email, password, home);
    expect(signedIn.status).toBe(200);
    await reachBackstop(email);
    const waiting = await signIn(email, password, home);
    expect(waiting.status).toBe(429);
    expect(waiting.body.error).toMatchObject({ code: "TOO_MANY_REQUESTS" });
    expect(deviceSetCookie(waiting.headers)).toBeUndefined();
    // The same address with the cookie its browser got is let in.
    expect((await signIn(email, password, home, deviceTokenOf(signedIn.headers))).status).toBe(200);
  });

  it("a device cookie for another email exempts nothing", async () => {
    const victim = await owner("victim");
    const other = await owner("other");
    await reachBackstop(victim.email);
    expect((await signIn(victim.email, victim.password, fromNewIp(), other.device)).status).toBe(429);
    expect((await signIn(victim.email, "wrong-password", fromNewIp(), other.device)).status).toBe(429);
    // The victim's own cookie does.
    expect((await signIn(victim.email, victim.password, fromNewIp(), victim.device)).status).toBe(200);
  });

  it("a tampered, foreign or expired device cookie is ignored: no exemption, and no error", async () => {
    const { email, password, device } = await owner("tamper");
    const [header, payload, signature] = device.split(".") as [string, string, string];
    const claims = decodeJwt(device);
    const reEncoded = (changes: Record<string, unknown>) =>
      Buffer.from(JSON.stringify({ ...claims, ...changes })).toString("base64url");
    const flip = (text: string, at: number) =>
      text.slice(0, at) + (text[at] === "A" ? "B" : "A") + text.slice(at + 1);
    const forged = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .sign(new TextEncoder().encode(randomBytes(32).toString("hex")));
    const accessToken = (await signIn(email, password, fromNewIp())).body.accessToken as string;
    const bad = {
      "another nonce, same signature": `${header}.${reEncoded({ jti: "chosen-by-the-attacker" })}.${signature}`,
      "a later expiry, same signature": `${header}.${reEncoded({ exp: Number(claims.exp) + 1e6 })}.${signature}`,
      "a flipped signature byte": `${header}.${payload}.${flip(signature, 10)}`,
      "alg none": `${Buffer.from('{"alg":"none"}').toString("base64url")}.${payload}.`,
      "signed with another key": forged,
      "an access token": accessToken,
      garbage: "not-a-token",
    };
    // Absent where nothing else limits: the right password signs in, the wrong one is a plain 401.
    for (const [what, cookie] of Object.entries(bad)) {
      expect([what, (await signIn(email, password, fromNewIp(), cookie)).status]).toEqual([what, 200]);
    }
    expect((await signIn(email, "wrong-password", fromNewIp(), bad.garbage)).status).toBe(401);
    await reachBackstop(email);
    for (const [what, cookie] of Object.entries(bad)) {
      expect([what, (await signIn(email, password, fromNewIp(), cookie)).status]).toEqual([what, 429]);
    }
    // Expired: the clock of the tokens moved past its lifetime (and back).
    dev.advanceClock(DEVICE_TOKEN_TTL_SECONDS * 1000 + 1000);
    try {
      expect((await signIn(email, password, fromNewIp(), device)).status).toBe(429);
    } finally {
      dev.advanceClock(-(DEVICE_TOKEN_TTL_SECONDS * 1000 + 1000));
    }
    // The cookie as issued is honoured.
    expect((await signIn(email, password, fromNewIp(), device)).status).toBe(200);
  });

  it(`a device cookie that failed ${PER_DEVICE} times is not trusted until its window ends`, async () => {
    const { email, password, device } = await owner("stolen");
    const laptop = deviceTokenOf((await signIn(email, password, fromNewIp())).headers)!;
    await reachBackstop(email);
    // Guesses with the cookie are checked past the backstop, up to its own limit…
    for (let i = 0; i < PER_DEVICE; i++)
      expect((await signIn(email, "wrong-password", fromNewIp(), device)).status).toBe(401);
    // …then it exempts nothing: even the right password waits for the backstop.
    const refused = await signIn(email, password, fromNewIp(), device);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(30);
    // The owner's other browser has a count of its own.
    expect((await signIn(email, password, fromNewIp(), laptop)).status).toBe(200);
    // The window ends (its counter expires): the cookie is trusted again.
    const keys = await dev.deps.redis.keys(`{${dev.redisPrefix}}:rl:login-device:*`);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) await dev.deps.redis.pexpire(key, 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await signIn(email, password, fromNewIp(), device)).status).toBe(200);
  });

  it("the cookie is httpOnly, SameSite=Lax, for /api, never the email; not set by a failed login nor cleared by logout", async () => {
    const email = uniqueEmail("attrs");
    const password = strongPassword();
    await dev.rest.register(email, password);

    const failed = await signIn(email, "wrong-password", fromNewIp());
    expect(failed.status).toBe(401);
    expect(deviceSetCookie(failed.headers)).toBeUndefined();

    const ok = await signIn(email, password, fromNewIp());
    expect(ok.status).toBe(200);
    const cookie = deviceSetCookie(ok.headers)!;
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Lax/);
    expect(cookie).toMatch(/; Path=\/api(;|$)/);
    const maxAge = Number(/; Max-Age=(\d+)/.exec(cookie)?.[1]);
    expect(maxAge).toBeGreaterThanOrEqual(DEVICE_TOKEN_TTL_SECONDS - 2);
    expect(maxAge).toBeLessThanOrEqual(DEVICE_TOKEN_TTL_SECONDS);
    expect(cookie).not.toMatch(/; Secure/);
    const token = deviceTokenOf(ok.headers)!;
    expect(decodeJwt(token)).toMatchObject({ aud: "gozon-device" });
    expect(JSON.stringify(decodeJwt(token))).not.toContain(email.split("@")[0]);
    expect(ok.text).not.toContain(token);
    // It signs nothing in.
    expect((await dev.rest.me(token)).status).toBe(401);
    const byCookie = await dev.request("/api/v1/auth/me", {
      headers: { cookie: `${DEVICE_COOKIE}=${token}` },
    });
    expect(byCookie.status).toBe(401);

    // Over HTTPS (through the trusted proxy) it is Secure, like the session cookies.
    const https = await signIn(email, password, { ...fromNewIp(), "x-forwarded-proto": "https" });
    expect(deviceSetCookie(https.headers)).toMatch(/; Secure/);

    // A sign-out clears the session cookies, not this one: the browser has still signed in before.
    const out = await dev.request("/api/v1/auth/logout", {
      method: "POST",
      json: { refreshToken: ok.body.refreshToken },
    });
    expect(out.status).toBe(200);
    expect(out.headers.getSetCookie().length).toBeGreaterThan(0);
    expect(deviceSetCookie(out.headers)).toBeUndefined();
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
