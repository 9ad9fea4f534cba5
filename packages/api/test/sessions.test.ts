import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "@gozon/core/testing";
import { REFRESH_COOKIE } from "../src/cookies.ts";
import type { IdentityClient } from "@gozon/db/clients";
import { ACCESS_TOKEN_TTL_SECONDS } from "../src/deps.ts";
import { createRedisClient } from "@gozon/core/infra/redis-client";
import {
  CLOCK_SKEW_MS,
  createRevokedSessions,
  sessionRevocationsChannel,
} from "../src/identity/session-revocations.ts";
import { createRefreshTokens, digestToken } from "../src/identity/tokens.ts";
import { messageKey, signedText } from "@gozon/messaging/signing";
import { startApi, strongPassword, uniqueEmail, type ApiHarness } from "./harness.ts";

let api: ApiHarness;
beforeAll(async () => {
  api = await startApi({ label: "api_sessions", trustProxy: true });
});
afterAll(async () => {
  await api?.close();
});

const DAY = 24 * 60 * 60 * 1000;
const cookieValue = (headers: Headers, name: string) =>
  headers
    .getSetCookie()
    .find((cookie) => cookie.startsWith(`${name}=`))
    ?.split(";")[0]
    ?.slice(name.length + 1);
/** What a browser page sends along with its request (`Origin` of the app, fetch metadata). */
const browser = () => ({ origin: new URL(api.baseUrl).origin, "sec-fetch-site": "same-origin" });
const refreshByCookie = (token: string) =>
  api.request("/api/v1/auth/refresh", {
    method: "POST",
    json: {},
    headers: { cookie: `${REFRESH_COOKIE}=${token}`, ...browser() },
  });

describe("the refresh token in a browser lives only in its HttpOnly cookie", () => {
  it("browser sign-in, registration and refresh (REST and tRPC) return no refresh token in the body", async () => {
    const email = uniqueEmail("browser");
    const password = strongPassword();
    const registered = await api.request("/api/v1/auth/register", {
      method: "POST",
      json: { email, password },
      headers: browser(),
    });
    expect(registered.status).toBe(201);
    expect(registered.body.refreshToken).toBeUndefined();
    expect(registered.text).not.toContain(cookieValue(registered.headers, REFRESH_COOKIE)!);

    const login = await api.request("/api/trpc/auth.login", {
      method: "POST",
      json: { email, password },
      headers: browser(),
    });
    expect(login.status).toBe(200);
    const rt = cookieValue(login.headers, REFRESH_COOKIE)!;
    expect(cookieValue(login.headers, REFRESH_COOKIE)).toBeTruthy();
    expect(login.text).not.toContain(rt);
    expect(login.body.result.data.accessToken).toEqual(expect.any(String));

    const refreshed = await refreshByCookie(rt);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refreshToken).toBeUndefined();
    expect(refreshed.text).not.toContain(cookieValue(refreshed.headers, REFRESH_COOKIE)!);
  });

  it("a page's refresh never returns the next token in the body, whatever header its script adds", async () => {
    const registered = await api.request("/api/v1/auth/register", {
      method: "POST",
      json: { email: uniqueEmail("scripted"), password: strongPassword() },
      // A gateway's Basic credentials, which the browser adds to every request by itself.
      headers: { ...browser(), authorization: "Basic Z2F0ZTpnYXRl" },
    });
    expect(registered.status).toBe(201);
    expect(registered.body.refreshToken).toBeUndefined();
    let rt = cookieValue(registered.headers, REFRESH_COOKIE)!;
    // What script injected into the page can send: the browser adds the cookie, the script a header.
    for (const authorization of ["Bearer x", "Basic Z2F0ZTpnYXRl"]) {
      const refreshed = await api.request("/api/v1/auth/refresh", {
        method: "POST",
        json: {},
        headers: { cookie: `${REFRESH_COOKIE}=${rt}`, authorization, ...browser() },
      });
      expect(refreshed.status, authorization).toBe(200);
      rt = cookieValue(refreshed.headers, REFRESH_COOKIE)!;
      expect(refreshed.body.refreshToken, authorization).toBeUndefined();
      expect(refreshed.text, authorization).not.toContain(rt);
    }
  });

  it("API clients (no browser headers, or a refresh token sent in the body) still get it in the body", async () => {
    const email = uniqueEmail("client");
    const password = strongPassword();
    const registered = await api.rest.register(email, password);
    expect(registered.body.refreshToken).toEqual(expect.any(String));
    const withAuthorization = await api.request("/api/v1/auth/refresh", {
      method: "POST",
      json: { refreshToken: registered.body.refreshToken },
      headers: { authorization: `Bearer ${registered.body.accessToken}`, origin: "http://tool.example" },
    });
    expect(withAuthorization.status).toBe(200);
    expect(withAuthorization.body.refreshToken).toEqual(expect.any(String));
  });
});

describe("a sign-in's lifetime", () => {
  it("ends 30 days after sign-in however often the token is rotated", async () => {
    const { body } = await api.rest.register(uniqueEmail("forever"), strongPassword());
    let token = body.refreshToken as string;
    // Rotate every 6 days (each token lives 7): without an absolute limit this would go on for ever.
    for (let day = 6; day < 30; day += 6) {
      api.advanceClock(6 * DAY);
      const rotated = await api.rest.refresh(token);
      expect(rotated.status, `day ${day}`).toBe(200);
      token = rotated.body.refreshToken;
      // The new token never outlives the sign-in: its cookie's Max-Age stops at day 30.
      const maxAge = Number(
        /Max-Age=(\d+)/.exec(
          rotated.headers.getSetCookie().find((c) => c.startsWith(`${REFRESH_COOKIE}=`))!,
        )?.[1],
      );
      expect(maxAge).toBeLessThanOrEqual(((30 - day) * DAY) / 1000);
    }
    api.advanceClock(6 * DAY); // day 30
    const ended = await api.rest.refresh(token);
    expect(ended.status).toBe(401);
    expect(ended.body.error.message).toMatch(/expired/);
  });
});

describe("a refresh repeated within the grace period", () => {
  it("two tabs refreshing at once with one token both get the same new pair; the session lives on", async () => {
    const { body } = await api.rest.register(uniqueEmail("tabs"), strongPassword());
    const results = await Promise.all([
      refreshByCookie(body.refreshToken),
      refreshByCookie(body.refreshToken),
    ]);
    expect(results.map((r) => r.status)).toEqual([200, 200]);
    const [first, second] = results.map((r) => cookieValue(r.headers, REFRESH_COOKIE));
    expect(first).toBeTruthy();
    expect(second).toBe(first);
    // The shared successor keeps working: the family was not revoked.
    const next = await refreshByCookie(first!);
    expect(next.status).toBe(200);
    const me = await api.request("/api/v1/auth/me", {
      headers: { authorization: `Bearer ${next.body.accessToken}` },
    });
    expect(me.status).toBe(200);
  });

  it("a repeat a few seconds later gets the same successor; after the grace period it is a reuse", async () => {
    const { body } = await api.rest.register(uniqueEmail("retry"), strongPassword());
    const first = await api.rest.refresh(body.refreshToken);
    api.advanceClock(3_000);
    const repeat = await api.rest.refresh(body.refreshToken);
    expect(repeat.status).toBe(200);
    expect(repeat.body.refreshToken).toBe(first.body.refreshToken);

    api.advanceClock(60_000);
    const late = await api.rest.refresh(body.refreshToken);
    expect(late.status).toBe(401);
    expect(late.body.error.message).toMatch(/already used/);
    // Reuse detection still works: the family is revoked, the successor with it.
    expect((await api.rest.refresh(first.body.refreshToken)).status).toBe(401);
  });
});

describe("HTTPS behind a trusted proxy", () => {
  it("cookies are Secure when the trusted proxy says the request came over HTTPS", async () => {
    const email = uniqueEmail("secure");
    const password = strongPassword();
    await api.rest.register(email, password);
    const login = await api.rest.login(email, password, { "x-forwarded-proto": "https" });
    expect(login.headers.getSetCookie().every((cookie) => /; Secure/.test(cookie))).toBe(true);
  });
});

describe("a revoked session's access tokens are refused at once, not at their expiry", () => {
  const createOrder = (token: string) =>
    api.request("/api/v1/orders", {
      method: "POST",
      headers: api.bearer(token),
      json: { amount: 1_000, description: "after sign-out" },
    });
  const signIn = async (email: string, password: string) => {
    const { status, body } = await api.rest.login(email, password);
    expect(status).toBe(200);
    return { accessToken: body.accessToken as string, refreshToken: body.refreshToken as string };
  };
  /** Refused like an expired token (401 UNAUTHORIZED over REST and tRPC), so the client refreshes. */
  const expectRefused = async (token: string) => {
    const rest = await createOrder(token);
    expect(rest.status).toBe(401);
    expect(rest.body).toEqual({
      error: {
        code: "UNAUTHORIZED",
        message: "This session has been signed out; sign in again",
        requestId: expect.any(String),
      },
    });
    const trpc = await api.trpc.query("orders.list", {}, token);
    expect(trpc.status).toBe(401);
    expect(trpc.body.error.data.code).toBe("UNAUTHORIZED");
    expect((await api.rest.me(token)).status).toBe(401);
  };

  it("after a logout: REST and tRPC answer 401; the user's other session goes on", async () => {
    const email = uniqueEmail("logout");
    const password = strongPassword();
    await api.rest.register(email, password);
    const session = await signIn(email, password);
    const other = await signIn(email, password); // another device
    expect((await createOrder(session.accessToken)).status).toBe(201);

    expect((await api.rest.logout(session.refreshToken)).status).toBe(200);
    expect((await api.rest.refresh(session.refreshToken)).status).toBe(401);
    await expectRefused(session.accessToken);

    // No false positive: a session never revoked keeps working, on both transports.
    expect((await createOrder(other.accessToken)).status).toBe(201);
    expect((await api.trpc.query("orders.list", {}, other.accessToken)).status).toBe(200);
  });

  it("a logout with the bearer token alone ends that session, and only that one", async () => {
    const email = uniqueEmail("bearerlogout");
    const password = strongPassword();
    await api.rest.register(email, password);
    const session = await signIn(email, password);
    const other = await signIn(email, password);

    const loggedOut = await api.request("/api/v1/auth/logout", {
      method: "POST",
      headers: api.bearer(session.accessToken),
    });
    expect(loggedOut.status).toBe(200);
    await expectRefused(session.accessToken);
    expect((await api.rest.refresh(session.refreshToken)).status).toBe(401);
    // Over tRPC alike, for the other session: its refresh token was never sent.
    const trpc = await api.trpc.mutation("auth.logout", undefined, other.accessToken);
    expect(trpc.status).toBe(200);
    await expectRefused(other.accessToken);
    expect((await api.rest.refresh(other.refreshToken)).status).toBe(401);
    // A new sign-in is a new session.
    expect((await createOrder((await signIn(email, password)).accessToken)).status).toBe(201);
  });

  it("a password change ends every session of the user, the caller's too, and starts a new one for it", async () => {
    const email = uniqueEmail("newpassword");
    const password = strongPassword();
    await api.rest.register(email, password);
    const session = await signIn(email, password);
    const other = await signIn(email, password); // another device, maybe the thief's
    const change = (body: unknown, token = session.accessToken) =>
      api.request("/api/v1/auth/password", { method: "POST", headers: api.bearer(token), json: body });

    // Refused, changing nothing: the wrong current password, the same password again, a short one.
    const wrong = await change({ currentPassword: "not-the-password", newPassword: strongPassword() });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.fields).toEqual({ currentPassword: "is not this account's password" });
    const same = await change({ currentPassword: password, newPassword: password });
    expect(same.body.error.fields).toEqual({ newPassword: "must differ from currentPassword" });
    expect((await change({ currentPassword: password, newPassword: "short" })).status).toBe(400);
    expect((await createOrder(other.accessToken)).status).toBe(201);

    const newPassword = strongPassword();
    const changed = await change({ currentPassword: password, newPassword });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ user: { email }, accessToken: expect.any(String) });
    // Every session from before is over, the caller's included…
    await expectRefused(session.accessToken);
    await expectRefused(other.accessToken);
    expect((await api.rest.refresh(session.refreshToken)).status).toBe(401);
    expect((await api.rest.refresh(other.refreshToken)).status).toBe(401);
    // …and the caller goes on in the new one it was given, over REST and tRPC.
    expect((await createOrder(changed.body.accessToken)).status).toBe(201);
    expect((await api.rest.refresh(changed.body.refreshToken)).status).toBe(200);
    expect((await api.rest.login(email, password)).status).toBe(401);
    expect((await api.rest.login(email, newPassword)).status).toBe(200);
    const viaTrpc = await api.trpc.mutation(
      "auth.changePassword",
      { currentPassword: newPassword, newPassword: strongPassword() },
      changed.body.accessToken,
    );
    expect(viaTrpc.status).toBe(200);
    // Signed out, there is no password to change.
    expect((await change({ currentPassword: newPassword, newPassword: strongPassword() }, "")).status).toBe(
      401,
    );
  });

  it("a refused refresh leaves the browser's cookies alone: another tab may have signed in meanwhile", async () => {
    const email = uniqueEmail("staletab");
    const password = strongPassword();
    await api.rest.register(email, password);
    const stale = await signIn(email, password);
    expect((await api.rest.logout(stale.refreshToken)).status).toBe(200);
    const refused = await api.request("/api/v1/auth/refresh", {
      method: "POST",
      headers: { cookie: `${REFRESH_COOKIE}=${stale.refreshToken}`, origin: api.baseUrl },
      json: {},
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.getSetCookie()).toEqual([]);
  });

  it("a logout repeated with the spent token writes nothing and announces nothing again", async () => {
    const email = uniqueEmail("relogout");
    const password = strongPassword();
    await api.rest.register(email, password);
    const session = await signIn(email, password);
    const marker = await signIn(email, password);
    expect((await api.rest.logout(session.refreshToken)).status).toBe(200);
    const familyOf = async (token: string) =>
      (await api.db.refreshToken.findUnique({ where: { tokenHash: digestToken(token) } }))!;
    const revokedAt = (await familyOf(session.refreshToken)).revokedAt;
    expect(revokedAt).not.toBeNull();

    // Everything announced from here on, in order: the repeat (were it announced), then the marker.
    const heard: string[] = [];
    const listener = createRedisClient(api.deps.config);
    listener.on("message", (_channel: string, raw: string) => heard.push(JSON.parse(raw).sessionId));
    await listener.subscribe(sessionRevocationsChannel(api.redisPrefix));
    try {
      api.advanceClock(60_000);
      expect((await api.rest.logout(session.refreshToken)).status).toBe(200);
      expect((await api.rest.logout(marker.refreshToken)).status).toBe(200);
      const markerFamily = (await familyOf(marker.refreshToken)).familyId;
      await waitFor(() => heard.includes(markerFamily), { timeoutMs: 5_000, what: "the marker's logout" });
      // Announced again, it would be refused a minute longer; written again, its time would move.
      expect(heard).toEqual([markerFamily]);
      expect((await familyOf(session.refreshToken)).revokedAt).toEqual(revokedAt);
    } finally {
      listener.disconnect();
    }
    await expectRefused(session.accessToken);
  });

  it("after a refresh token's reuse: the stolen family's access tokens are refused too", async () => {
    const email = uniqueEmail("reuse");
    const password = strongPassword();
    await api.rest.register(email, password);
    const session = await signIn(email, password);
    const rotated = await api.rest.refresh(session.refreshToken);
    expect(rotated.status).toBe(200);
    expect((await api.rest.refresh(rotated.body.refreshToken)).status).toBe(200);
    // The first token again, past the two-tab repeat: a reuse, the family is revoked.
    expect((await api.rest.refresh(session.refreshToken)).status).toBe(401);
    await expectRefused(session.accessToken);
    await expectRefused(rotated.body.accessToken);
  });

  it("after a password change (every session of the user): tokens from before it only", async () => {
    const email = uniqueEmail("password");
    const password = strongPassword();
    const { body } = await api.rest.register(email, password);
    const before = [body.accessToken as string, (await signIn(email, password)).accessToken];
    await api.deps.refreshTokens.revokeAllOf(body.user.id);
    // A sign-in right after (most likely within the same second) is a new session, not a revoked one.
    const after = await signIn(email, password);
    for (const token of before) await expectRefused(token);
    expect((await createOrder(after.accessToken)).status).toBe(201);
    expect((await api.trpc.query("orders.list", {}, after.accessToken)).status).toBe(200);
  });

  /** A sign-in whose family is then revoked in the database alone, as if its message were lost. */
  const revokedUnannounced = async () => {
    const email = uniqueEmail("unheard");
    const password = strongPassword();
    const { body } = await api.rest.register(email, password);
    const session = await signIn(email, password);
    const { familyId } = (await api.db.refreshToken.findUnique({
      where: { tokenHash: digestToken(session.refreshToken) },
    }))!;
    await api.db.refreshToken.updateMany({ where: { familyId }, data: { revokedAt: api.deps.now() } });
    return { userId: body.user.id as string, sessionId: familyId, ...session };
  };

  it("is read again when the subscription reconnects: what was published meanwhile is lost", async () => {
    const { revokedSessions, redis } = api.deps;
    await revokedSessions.ready;
    const missed = await revokedUnannounced();
    expect(revokedSessions.refuses(missed.sessionId)).toBe(false);
    const name = `${api.redisPrefix}:web-session-revocations`;
    const clients = String(await redis.client("LIST"));
    const [, id] = new RegExp(`id=(\\d+) .*name=${name} `).exec(clients) ?? [];
    expect(id).toBeDefined();
    await redis.client("KILL", "ID", id!);
    await waitFor(() => revokedSessions.refuses(missed.sessionId), {
      timeoutMs: 5_000,
      what: "the list read again",
    });
  });

  it("is read from the database at start and every few seconds, with Redis out of reach", async () => {
    const revoked = await revokedUnannounced();
    const unreachable = createRedisClient(
      { REDIS_URL: "redis://127.0.0.1:1" },
      { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false },
    );
    const sessions = createRevokedSessions({
      db: api.db,
      redis: unreachable,
      target: { REDIS_URL: "redis://127.0.0.1:1" },
      redisPrefix: api.redisPrefix,
      signingKey: api.deps.signingKey,
      accessTokenTtlSeconds: ACCESS_TOKEN_TTL_SECONDS,
      now: api.deps.now,
      log: api.deps.log,
      resyncMs: 200,
    });
    try {
      await waitFor(() => sessions.loaded, { timeoutMs: 5_000, what: "the list loaded without Redis" });
      expect(sessions.refuses(revoked.sessionId)).toBe(true);
      // Revoked after the first read, never announced: found by a later read.
      const later = await revokedUnannounced();
      expect(sessions.refuses(later.sessionId)).toBe(false);
      await waitFor(() => sessions.refuses(later.sessionId), {
        timeoutMs: 5_000,
        what: "the next read of the list",
      });
      expect(sessions.refuses(randomUUID())).toBe(false);
    } finally {
      await sessions.close();
      unreachable.disconnect();
    }
  });

  it("is announced signed: an unsigned or foreign-key announcement signs no one out", async () => {
    const { revokedSessions, redis, signingKey } = api.deps;
    await revokedSessions.ready;
    const channel = sessionRevocationsChannel(api.redisPrefix);
    const victim = { userId: randomUUID(), sessionId: randomUUID() };
    const forged = { ...victim, revokedAt: api.deps.now().getTime() };
    await redis.publish(channel, JSON.stringify(forged));
    await redis.publish(channel, signedText(messageKey("k".repeat(40)), forged));
    // A signed one after them on the same channel: once it is heard, so were the two before it.
    const marker = { userId: randomUUID(), sessionId: randomUUID(), revokedAt: forged.revokedAt };
    await redis.publish(channel, signedText(signingKey, marker));
    await waitFor(() => revokedSessions.refuses(marker.sessionId), {
      timeoutMs: 5_000,
      what: "the signed announcement",
    });
    expect(revokedSessions.refuses(victim.sessionId)).toBe(false);
  });

  it("is forgotten once its tokens could have expired", async () => {
    const email = uniqueEmail("forget");
    const password = strongPassword();
    await api.rest.register(email, password);
    const session = await signIn(email, password);
    await api.rest.logout(session.refreshToken);
    const { familyId: sessionId } = (await api.db.refreshToken.findUnique({
      where: { tokenHash: digestToken(session.refreshToken) },
    }))!;
    expect(api.deps.revokedSessions.refuses(sessionId)).toBe(true);

    // Past the token's life (and the clocks' margin): the token is merely expired, the entry forgotten.
    api.advanceClock(ACCESS_TOKEN_TTL_SECONDS * 1000 + CLOCK_SKEW_MS + 1_000);
    const expired = await createOrder(session.accessToken);
    expect(expired.status).toBe(401);
    expect(expired.body.error.message).toBe("The access token has expired; refresh it");
    expect(api.deps.revokedSessions.refuses(sessionId)).toBe(false);
  });
});

describe("a refresh racing a logout", () => {
  /** A gate a test opens by hand; `reached` resolves once something waits at it. */
  const gate = () => {
    let open!: () => void;
    let reached!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    const arrived = new Promise<void>((resolve) => (reached = resolve));
    return { open, arrived, pass: () => (reached(), opened) };
  };
  /** Refresh tokens over the API's database whose `operation` on a token waits at `at` first. */
  const tokensHeldAt = (operation: "create" | "updateMany", at: ReturnType<typeof gate>) => {
    const db = api.deps.identityDb.$extends({
      query: {
        refreshToken: {
          async [operation]({ args, query }: { args: unknown; query: (args: unknown) => Promise<unknown> }) {
            await at.pass();
            return query(args);
          },
        },
      },
    }) as unknown as IdentityClient;
    return createRefreshTokens({
      db,
      ttlSeconds: 7 * 24 * 60 * 60,
      now: api.deps.now,
      log: api.deps.log,
      grace: { redis: api.deps.redis, prefix: api.redisPrefix },
    });
  };
  /** Some statement on the identity database is waiting for a lock another transaction holds. */
  const someoneWaitsForALock = async () => {
    const rows = await api.db.$queryRaw<Array<{ waiting: bigint }>>`
      SELECT count(*) AS waiting FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock'`;
    return Number(rows[0]!.waiting) > 0;
  };
  const revokedAtOf = async (token: string) =>
    (await api.db.refreshToken.findUnique({ where: { tokenHash: digestToken(token) } }))?.revokedAt ?? null;

  it("a successor committed while the logout waits is revoked with the family", async () => {
    const { body } = await api.rest.register(uniqueEmail("race"), strongPassword());
    const held = gate();
    // The rotation has claimed the token and waits before inserting its successor.
    const rotation = tokensHeldAt("create", held).rotate(body.refreshToken);
    await held.arrived;
    const logout = api.deps.refreshTokens.revokeFamilyOf(body.refreshToken);
    await waitFor(someoneWaitsForALock, { timeoutMs: 5_000, what: "the logout waiting for the rotation" });
    held.open();
    const rotated = await rotation;
    await logout;
    expect(rotated.ok).toBe(true);
    const successor = (rotated as Extract<typeof rotated, { ok: true }>).token;
    expect(await revokedAtOf(successor)).not.toBeNull();
    expect(await api.deps.refreshTokens.rotate(successor)).toEqual({ ok: false, reason: "revoked" });
  });

  it("a rotation that waits for a logout finds its token revoked and makes no successor", async () => {
    const { body } = await api.rest.register(uniqueEmail("race"), strongPassword());
    const userId = body.user.id as string;
    const held = gate();
    // The logout has begun and waits before revoking.
    const logout = tokensHeldAt("updateMany", held).revokeFamilyOf(body.refreshToken);
    await held.arrived;
    const rotation = api.deps.refreshTokens.rotate(body.refreshToken);
    await waitFor(someoneWaitsForALock, { timeoutMs: 5_000, what: "the rotation waiting for the logout" });
    held.open();
    await logout;
    expect(await rotation).toEqual({ ok: false, reason: "revoked" });
    expect(await api.db.refreshToken.count({ where: { userId, revokedAt: null } })).toBe(0);
  });
});
