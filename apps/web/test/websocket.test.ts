// The tRPC WebSocket's defences, against real web instances (API + WebSocket, without Next) over real
// Postgres and Redis: Origin check, subscriptions only, the socket ends with its session, and the web
// client resumes its feed across that end without missing an event.
import { createTRPCClient, wsLink } from "@trpc/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { waitFor } from "@gozon/core/testing";
import { balanceEventsChannel } from "@gozon/api/live/balance-feed";
import { FEED_START_BURST, MAX_FEEDS_PER_SOCKET } from "@gozon/api/live/socket-budget";
import { buildMessage } from "@gozon/messaging/contracts";
import type { AppRouter } from "@gozon/api/root";
import { createLiveSocket } from "../src/client/api.ts";
import { MAX_SOCKETS_PER_USER, SESSION_ENDED_CLOSE_CODE } from "../src/server/websocket.ts";
import { rawSocket, startInstances, type WebInstance } from "./instances.ts";

type Instances = Awaited<ReturnType<typeof startInstances>>;

const authHeader = (token: string) => ({ authorization: `Bearer ${token}` });

describe("WebSocket upgrade: Origin", () => {
  let system: Instances;
  let web: WebInstance;
  let listed: WebInstance;
  let proxied: WebInstance;

  beforeAll(async () => {
    system = await startInstances(1);
    web = system.instances[0] as WebInstance;
    const more = await startInstances(1, {
      env: { ALLOWED_ORIGINS: "https://shop.example, https://admin.shop.example" },
    });
    listed = more.instances[0] as WebInstance;
    const behindProxy = await startInstances(1, { env: { TRUST_PROXY: "true" } });
    proxied = behindProxy.instances[0] as WebInstance;
    const close = system.close;
    system.close = async () => {
      await Promise.all([close(), more.close(), behindProxy.close()]);
    };
  });
  afterAll(async () => system?.close());

  it("refuses a foreign page with 403 before upgrading, and accepts the app's own origin", async () => {
    const foreign = rawSocket(web.wsUrl, { origin: "http://evil.example" });
    const refused = await foreign.opened;
    expect(refused).toMatchObject({ ok: false, status: 403 });
    expect(JSON.parse((refused as { body: string }).body)).toEqual({
      error: { code: "FORBIDDEN", message: expect.any(String) },
    });
    expect(web.websocketClients()).toBe(0);

    // The same host on another port or scheme is another origin; `null` (sandboxed frames) is no origin.
    const port = Number(new URL(web.base).port);
    for (const origin of [`http://127.0.0.1:${port + 1}`, `https://127.0.0.1:${port}`, "null"]) {
      expect(await rawSocket(web.wsUrl, { origin }).opened, origin).toMatchObject({ ok: false, status: 403 });
    }

    const own = rawSocket(web.wsUrl, { origin: web.base });
    expect(await own.opened).toEqual({ ok: true });
    own.close();
    // Not a browser page (curl, server-to-server clients): no Origin, nothing to hijack.
    const headless = rawSocket(web.wsUrl);
    expect(await headless.opened).toEqual({ ok: true });
    headless.close();
  });

  it("accepts exactly the ALLOWED_ORIGINS when they are set", async () => {
    for (const origin of ["https://shop.example", "https://ADMIN.shop.example:443"]) {
      const socket = rawSocket(listed.wsUrl, { origin });
      expect(await socket.opened, origin).toEqual({ ok: true });
      socket.close();
    }
    for (const origin of [listed.base, "http://shop.example", "https://evil.example"]) {
      expect(await rawSocket(listed.wsUrl, { origin }).opened, origin).toMatchObject({
        ok: false,
        status: 403,
      });
    }
  });

  it("honours X-Forwarded-Host/-Proto only behind a trusted proxy", async () => {
    const forwarded = { "x-forwarded-host": "shop.example", "x-forwarded-proto": "https" };
    const viaProxy = rawSocket(proxied.wsUrl, { origin: "https://shop.example", headers: forwarded });
    expect(await viaProxy.opened).toEqual({ ok: true });
    viaProxy.close();
    // Without TRUST_PROXY the same headers are anyone's words: the origin must match the Host itself.
    const forged = rawSocket(web.wsUrl, { origin: "https://shop.example", headers: forwarded });
    expect(await forged.opened).toMatchObject({ ok: false, status: 403 });
  });
});

describe("WebSocket: subscriptions only, sessions end (revoked ones on every instance), live balance", () => {
  let system: Instances;
  let a: WebInstance;
  let b: WebInstance;

  beforeAll(async () => {
    system = await startInstances(2);
    [a, b] = system.instances as [WebInstance, WebInstance];
  });
  afterAll(async () => system?.close());

  it("refuses queries and mutations over the socket, with no effect, and still serves subscriptions", async () => {
    const user = await system.user();
    const { accessToken } = await a.login(user.email, user.password);
    const socket = rawSocket(a.wsUrl, { token: accessToken });
    await socket.opened;
    socket.send({ id: 1, method: "mutation", params: { path: "payments.createAccount", input: {} } });
    socket.send({ id: 2, method: "mutation", params: { path: "auth.login", input: user } });
    socket.send({ id: 3, method: "query", params: { path: "auth.me" } });
    // A batch of mutations in one frame, as tRPC's WebSocket protocol allows.
    socket.send([
      {
        id: 4,
        method: "mutation",
        params: { path: "orders.create", input: { amount: 100, description: "x" } },
      },
      { id: 5, method: "mutation", params: { path: "payments.createAccount", input: {} } },
    ]);
    socket.subscribe(6, "orders.onStatusChange");
    await waitFor(() => [1, 2, 3, 4, 5, 6].every((id) => socket.replies(id).length > 0), {
      what: "an answer to every request",
    });
    for (const id of [1, 2, 3, 4, 5]) {
      expect(socket.replies(id), `request ${id}`).toEqual([
        expect.objectContaining({
          error: expect.objectContaining({ data: expect.objectContaining({ code: "METHOD_NOT_SUPPORTED" }) }),
        }),
      ]);
    }
    expect(socket.replies(6)).toEqual([expect.objectContaining({ result: { type: "started" } })]);
    socket.close();

    // Nothing happened: no account, no order.
    expect((await a.get("/api/v1/accounts/me", authHeader(accessToken))).status).toBe(404);
    expect((await a.get("/api/v1/orders", authHeader(accessToken))).body.orders).toEqual([]);
  });

  it("re-reads the role when a subscription starts: a demoted admin loses the admin feed", async () => {
    const admin = await system.user("ADMIN");
    const { accessToken } = await a.login(admin.email, admin.password);
    const before = rawSocket(a.wsUrl, { token: accessToken });
    await before.opened;
    before.subscribe(1, "admin.orderFeed");
    await waitFor(() => before.replies(1).length > 0, { what: "the admin feed" });
    expect(before.replies(1)[0]).toMatchObject({ result: { type: "started" } });
    before.close();

    await a.deps.identityDb.user.update({ where: { id: admin.id }, data: { role: "SHOPPER" } });
    // The token still says ADMIN for minutes; the database decides.
    const after = rawSocket(a.wsUrl, { token: accessToken });
    await after.opened;
    after.subscribe(1, "admin.orderFeed");
    after.subscribe(2, "orders.onStatusChange");
    await waitFor(() => after.replies(1).length > 0 && after.replies(2).length > 0, { what: "both answers" });
    expect(after.replies(1)[0]).toMatchObject({ error: { data: { code: "FORBIDDEN" } } });
    expect(after.replies(2)[0]).toMatchObject({ result: { type: "started" } });
    after.close();
  });

  it("closes the sockets of a session on every instance when it signs out or its family is revoked", async () => {
    const user = await system.user();
    const session = await a.login(user.email, user.password);
    const other = await a.login(user.email, user.password); // another device: another session
    const onB = rawSocket(b.wsUrl, { token: session.accessToken });
    const otherOnB = rawSocket(b.wsUrl, { token: other.accessToken });
    await Promise.all([onB.opened, otherOnB.opened]);
    onB.subscribe(1, "orders.onStatusChange");
    otherOnB.subscribe(1, "orders.onStatusChange");
    await waitFor(() => onB.replies(1).length > 0 && otherOnB.replies(1).length > 0, { what: "both feeds" });

    // Signed out through instance A, with the refresh token in the body (an API client).
    expect((await a.post("/api/v1/auth/logout", { refreshToken: session.refreshToken })).status).toBe(200);
    await waitFor(() => onB.closed(), { timeoutMs: 5_000, what: "the signed-out session's socket on B" });
    expect(onB.closed()).toEqual({ code: SESSION_ENDED_CLOSE_CODE, reason: "session revoked" });
    expect(otherOnB.closed()).toBeNull();

    // Reuse of a spent refresh token revokes that family: its socket on B ends too. (Its successor is
    // spent as well, so this is no two-tab repeat within the grace period.)
    const rotated = await a.post("/api/v1/auth/refresh", { refreshToken: other.refreshToken });
    expect(rotated.status).toBe(200);
    const rotatedAgain = await a.post("/api/v1/auth/refresh", { refreshToken: rotated.body.refreshToken });
    expect(rotatedAgain.status).toBe(200);
    const reused = await a.post("/api/v1/auth/refresh", { refreshToken: other.refreshToken });
    expect(reused.status).toBe(401);
    await waitFor(() => otherOnB.closed(), { timeoutMs: 5_000, what: "the reused family's socket on B" });
    expect(otherOnB.closed()?.code).toBe(SESSION_ENDED_CLOSE_CODE);
  });

  it("tells a shopper's socket on one instance of every top-up of their account made through another, and nobody else", async () => {
    const [shopper, other, admin] = [await system.user(), await system.user(), await system.user("ADMIN")];
    const tokens = {
      shopper: (await b.login(shopper.email, shopper.password)).accessToken,
      other: (await b.login(other.email, other.password)).accessToken,
      admin: (await b.login(admin.email, admin.password)).accessToken,
    };
    for (const token of [tokens.shopper, tokens.other]) {
      expect((await b.post("/api/v1/accounts", {}, authHeader(token))).status).toBe(201);
    }
    const sockets = {
      shopper: rawSocket(a.wsUrl, { token: tokens.shopper }),
      other: rawSocket(a.wsUrl, { token: tokens.other }),
      // An admin's page of the shopper follows the shopper's account.
      admin: rawSocket(a.wsUrl, { token: tokens.admin }),
    };
    await Promise.all(Object.values(sockets).map((socket) => socket.opened));
    sockets.shopper.subscribe(1, "payments.onBalanceChange");
    sockets.other.subscribe(1, "payments.onBalanceChange");
    // An id in capitals names the same user: the admin's feed still hears the shopper's own top-ups.
    sockets.admin.subscribe(1, "admin.onBalanceChange", { userId: shopper.id.toUpperCase() });
    // Another user's account is an admin's to follow, not a shopper's.
    sockets.other.subscribe(2, "admin.onBalanceChange", { userId: shopper.id });
    const data = (socket: ReturnType<typeof rawSocket>) =>
      socket
        .replies(1)
        .map((frame) => (frame as { result?: { type?: string; data?: unknown } }).result)
        .filter((result) => result?.type === "data")
        .map((result) => result?.data);
    await waitFor(
      () =>
        Object.values(sockets).every((socket) => socket.replies(1).length > 0) &&
        sockets.other.replies(2).length > 0,
      { what: "the subscriptions started, and the shopper's refused" },
    );
    expect(sockets.other.replies(2)[0]).toMatchObject({ error: { data: { code: "FORBIDDEN" } } });

    // The shopper's own top-up (another tab), then an admin's: each reaches the shopper's socket.
    const own = await b.post("/api/v1/accounts/me/top-up", { amount: 1_500 }, authHeader(tokens.shopper));
    expect(own.status).toBe(200);
    await waitFor(() => data(sockets.shopper).length === 1 && data(sockets.admin).length === 1, {
      what: "the first change",
    });
    const byAdmin = await b.post(
      `/api/v1/admin/users/${shopper.id.toUpperCase()}/top-up`,
      { amount: 2_000 },
      authHeader(tokens.admin),
    );
    expect(byAdmin.status).toBe(200);
    await waitFor(() => data(sockets.shopper).length === 2, { what: "the second change" });
    expect(data(sockets.shopper)).toEqual([
      { userId: shopper.id, change: "TOP_UP", amount: 1_500, balance: 1_500 },
      { userId: shopper.id, change: "TOP_UP", amount: 2_000, balance: 3_500 },
    ]);
    await waitFor(() => data(sockets.admin).length === 2, { what: "both changes on the admin's socket" });
    expect(data(sockets.admin)).toEqual(data(sockets.shopper));

    // The other user's socket heard none of it; their own top-up, published after, is the first it gets.
    await b.post("/api/v1/accounts/me/top-up", { amount: 700 }, authHeader(tokens.other));
    await waitFor(() => data(sockets.other).length === 1, { what: "the other user's change" });
    expect(data(sockets.other)).toEqual([{ userId: other.id, change: "TOP_UP", amount: 700, balance: 700 }]);
    expect(data(sockets.shopper)).toHaveLength(2);
    expect(data(sockets.admin)).toHaveLength(2);
    expect(a.deps.balanceEvents().listeners).toBe(3);
    for (const socket of Object.values(sockets)) socket.close();
    // Closed sockets leave nothing listening behind.
    await waitFor(() => a.deps.balanceEvents().listeners === 0, { what: "the listeners gone" });
  });

  it("ignores whatever else is published on the channel", async () => {
    const shopper = await system.user();
    const { accessToken } = await b.login(shopper.email, shopper.password);
    expect((await b.post("/api/v1/accounts", {}, authHeader(accessToken))).status).toBe(201);
    const socket = rawSocket(a.wsUrl, { token: accessToken });
    await socket.opened;
    socket.subscribe(1, "payments.onBalanceChange");
    await waitFor(() => socket.replies(1).length > 0, { what: "the subscription started" });
    const channel = balanceEventsChannel(a.deps.config.REDIS_PREFIX);
    // Not JSON, a bare payload (every case is in the contracts' unit test), and a whole envelope that
    // no service signed (anyone who can write to Redis can publish it): the instance reads past them.
    const forged = buildMessage("BalanceChanged", { userId: shopper.id, amount: 1, balance: 1 });
    for (const raw of ["{", JSON.stringify(forged.payload), JSON.stringify(forged)]) {
      await a.deps.redis.publish(channel, raw);
    }
    await b.post("/api/v1/accounts/me/top-up", { amount: 300 }, authHeader(accessToken));
    await waitFor(() => socket.replies(1).some((frame) => JSON.stringify(frame).includes('"amount":300')), {
      what: "the real change",
    });
    const changes = socket.replies(1).filter((frame) => JSON.stringify(frame).includes('"data"'));
    expect(changes).toHaveLength(1);
    socket.close();
  });

  // A revoked session's access token, on every instance (REST, tRPC, WebSocket).
  const createOrder = (web: WebInstance, token: string) =>
    web.post("/api/v1/orders", { amount: 500, description: "with an old token" }, authHeader(token));
  /** A new socket with `token`, and the answer to a subscription on it. */
  const subscribe = async (web: WebInstance, token: string) => {
    const socket = rawSocket(web.wsUrl, { token });
    await socket.opened;
    socket.subscribe(1, "orders.onStatusChange");
    await waitFor(() => socket.replies(1).length > 0, { what: "the subscription's answer" });
    const [answer] = socket.replies(1);
    return { socket, answer };
  };
  const expectRefused = async (web: WebInstance, token: string) => {
    const rest = await createOrder(web, token);
    expect(rest.status).toBe(401);
    expect(rest.body.error.code).toBe("UNAUTHORIZED");
    expect((await web.get("/api/trpc/orders.list", authHeader(token))).status).toBe(401);
    const { socket, answer } = await subscribe(web, token);
    expect(answer).toMatchObject({ error: { data: { code: "UNAUTHORIZED" } } });
    socket.close();
  };
  const expectServed = async (web: WebInstance, token: string) => {
    expect((await createOrder(web, token)).status).toBe(201);
    expect((await web.get("/api/trpc/orders.list", authHeader(token))).status).toBe(200);
    const { socket, answer } = await subscribe(web, token);
    expect(answer).toMatchObject({ result: { type: "started" } });
    return socket;
  };
  /** Pub/sub delivers to the other instance asynchronously (within a millisecond or so). */
  const heardOn = (web: WebInstance, token: string) =>
    waitFor(async () => (await web.get("/api/v1/auth/me", authHeader(token))).status === 401, {
      timeoutMs: 2_000,
      what: "the revocation on the other instance",
    });

  it("after a logout on one instance: refused on it and on the other; another session of the user goes on", async () => {
    const user = await system.user();
    const session = await a.login(user.email, user.password);
    const other = await a.login(user.email, user.password); // another device
    (await expectServed(b, session.accessToken)).close();

    expect((await a.post("/api/v1/auth/logout", { refreshToken: session.refreshToken })).status).toBe(200);
    expect((await a.post("/api/v1/auth/refresh", { refreshToken: session.refreshToken })).status).toBe(401);
    await expectRefused(a, session.accessToken);
    await heardOn(b, session.accessToken);
    await expectRefused(b, session.accessToken);

    // No false positive: the session never revoked works everywhere, and its socket stays open.
    const socket = await expectServed(b, other.accessToken);
    (await expectServed(a, other.accessToken)).close();
    expect(socket.closed()).toBeNull();
    socket.close();
  });

  it("an instance started after the revocation refuses the token too: it reads the revocations from the identity database", async () => {
    const user = await system.user();
    const session = await a.login(user.email, user.password);
    const other = await a.login(user.email, user.password);
    expect((await a.post("/api/v1/auth/logout", { refreshToken: session.refreshToken })).status).toBe(200);

    // It was not listening when the revocation was announced.
    const late = await system.addInstance();
    await expectRefused(late, session.accessToken);
    (await expectServed(late, other.accessToken)).close();
    expect(late.deps.revokedSessions.loaded).toBe(true);
  });

  it("after a password change (every session of the user): tokens issued before it are refused, a sign-in after it is not", async () => {
    const user = await system.user();
    const first = await a.login(user.email, user.password);
    const second = await b.login(user.email, user.password);
    const open = await expectServed(b, first.accessToken);

    await a.deps.refreshTokens.revokeAllOf(user.id);
    const after = await b.login(user.email, user.password);
    await waitFor(() => open.closed(), { timeoutMs: 5_000, what: "the socket of a revoked session" });
    expect(open.closed()?.code).toBe(SESSION_ENDED_CLOSE_CODE);
    await heardOn(b, second.accessToken);
    for (const web of [a, b]) {
      for (const token of [first.accessToken, second.accessToken]) await expectRefused(web, token);
    }
    const sockets = [await expectServed(a, after.accessToken), await expectServed(b, after.accessToken)];
    // An instance started later reads the revocations from the identity database and draws the same
    // line; the new session's sockets stayed open throughout.
    const late = await system.addInstance();
    await expectRefused(late, first.accessToken);
    (await expectServed(late, after.accessToken)).close();
    expect(sockets.map((socket) => socket.closed())).toEqual([null, null]);
    for (const socket of sockets) socket.close();
  });

  describe("one socket's share of the instance", () => {
    const errorCode = (frame: unknown) =>
      (frame as { error?: { data?: { code?: string } } }).error?.data?.code;
    const answered = (socket: ReturnType<typeof rawSocket>, ids: number[]) =>
      waitFor(() => ids.every((id) => socket.replies(id).length > 0), { what: `answers to ${ids.length}` });

    it(`holds at most ${MAX_FEEDS_PER_SOCKET} feeds open, however many one frame asks for; a stopped one frees its slot`, async () => {
      const user = await system.user();
      const { accessToken } = await a.login(user.email, user.password);
      const socket = rawSocket(a.wsUrl, { token: accessToken });
      await socket.opened;
      // Fifteen feeds in one frame, as an attacker would send hundreds.
      const ids = Array.from({ length: 15 }, (_, i) => i + 1);
      socket.send(
        ids.map((id) => ({ id, method: "subscription", params: { path: "orders.onStatusChange" } })),
      );
      await answered(socket, ids);
      const started = ids.filter((id) => socket.replies(id)[0]?.result?.type === "started");
      const refused = ids.filter((id) => errorCode(socket.replies(id)[0]) === "TOO_MANY_REQUESTS");
      expect(started).toHaveLength(MAX_FEEDS_PER_SOCKET);
      expect(refused).toHaveLength(15 - MAX_FEEDS_PER_SOCKET);
      expect(socket.replies(refused[0]!)[0].error.message).toMatch(/stop one first/);

      socket.send({ id: started[0], method: "subscription.stop" });
      await waitFor(() => socket.replies(started[0]!).some((frame) => frame.result?.type === "stopped"), {
        what: "the stopped feed",
      });
      socket.subscribe(100, "orders.onStatusChange");
      socket.subscribe(101, "orders.onStatusChange");
      await answered(socket, [100, 101]);
      expect(socket.replies(100)[0]).toMatchObject({ result: { type: "started" } });
      expect(errorCode(socket.replies(101)[0])).toBe("TOO_MANY_REQUESTS");
      socket.close();
    });

    it("refuses feed starts past its burst, even when few are open at once", async () => {
      const user = await system.user();
      const { accessToken } = await a.login(user.email, user.password);
      const socket = rawSocket(a.wsUrl, { token: accessToken });
      await socket.opened;
      // Start ten and stop them, four times over: never more than ten open, yet forty starts, each a read
      // of the database. The bucket refills one a second, so unless this takes 20 s some are refused.
      const refused: unknown[] = [];
      for (let round = 0; round < 4; round++) {
        const ids = Array.from({ length: MAX_FEEDS_PER_SOCKET }, (_, i) => round * 100 + i + 1);
        socket.send(
          ids.map((id) => ({ id, method: "subscription", params: { path: "orders.onStatusChange" } })),
        );
        await answered(socket, ids);
        const started = ids.filter((id) => socket.replies(id)[0]?.result?.type === "started");
        refused.push(...ids.filter((id) => !started.includes(id)).map((id) => socket.replies(id)[0]));
        socket.send(started.map((id) => ({ id, method: "subscription.stop" })));
        await waitFor(
          () => started.every((id) => socket.replies(id).some((frame) => frame.result?.type === "stopped")),
          { what: "the round's feeds stopped" },
        );
      }
      expect(refused.length).toBeGreaterThanOrEqual(40 - FEED_START_BURST - 19);
      for (const frame of refused) {
        expect(frame).toMatchObject({
          error: {
            message: "Too many live feeds started; try again in 1 second",
            data: { code: "TOO_MANY_REQUESTS", retryAfterSeconds: 1 },
          },
        });
      }
      socket.close();
    });

    it(`serves at most ${MAX_SOCKETS_PER_USER} signed-in sockets of one user; another user is not held back`, async () => {
      const user = await system.user();
      const { accessToken } = await a.login(user.email, user.password);
      const open = async (token: string) => {
        const socket = rawSocket(a.wsUrl, { token });
        await socket.opened;
        socket.subscribe(1, "orders.onStatusChange");
        await waitFor(() => socket.replies(1).length > 0 || socket.closed() !== null, {
          what: "the socket's fate",
        });
        return socket;
      };
      const sockets = [];
      for (let i = 0; i < MAX_SOCKETS_PER_USER; i++) sockets.push(await open(accessToken));
      expect(sockets.map((socket) => socket.closed())).toEqual(sockets.map(() => null));
      const extra = await open(accessToken);
      await waitFor(() => extra.closed() !== null, { what: "the extra socket closed" });
      // A connection error (id null), on which tRPC's client backs off before it reconnects.
      expect(extra.replies(null as unknown as number)).toEqual([
        expect.objectContaining({
          error: expect.objectContaining({ data: expect.objectContaining({ code: "TOO_MANY_REQUESTS" }) }),
        }),
      ]);
      expect(extra.replies(1).filter((frame) => frame.result?.type === "started")).toEqual([]);

      const other = await system.user();
      const theirs = await open((await a.login(other.email, other.password)).accessToken);
      expect(theirs.replies(1)[0]).toMatchObject({ result: { type: "started" } });
      theirs.close();
      // One closed, one more may open.
      sockets.pop()!.close();
      await waitFor(
        async () => {
          const again = await open(accessToken);
          const served = again.replies(1)[0]?.result?.type === "started";
          if (!served) again.close();
          else sockets.push(again);
          return served;
        },
        { timeoutMs: 5_000, what: "a socket once another closed" },
      );
      for (const socket of sockets) socket.close();
    });
  });
});

describe("WebSocket: access-token expiry", () => {
  const TTL_SECONDS = 3;
  let system: Instances;
  let web: WebInstance;

  beforeAll(async () => {
    system = await startInstances(1, { accessTokenTtlSeconds: TTL_SECONDS });
    web = system.instances[0] as WebInstance;
  });
  afterAll(async () => system?.close());

  it("closes a socket when its access token expires, with the session-ended close code", async () => {
    const user = await system.user();
    const { accessToken } = await web.login(user.email, user.password);
    const signedIn = rawSocket(web.wsUrl, { token: accessToken });
    const anonymous = rawSocket(web.wsUrl);
    await Promise.all([signedIn.opened, anonymous.opened]);
    signedIn.subscribe(1, "orders.onStatusChange");
    const openedAt = Date.now();
    await waitFor(() => signedIn.closed(), {
      timeoutMs: (TTL_SECONDS + 5) * 1000,
      what: "the close at expiry",
    });
    expect(signedIn.closed()).toEqual({ code: SESSION_ENDED_CLOSE_CODE, reason: "access token expired" });
    expect(Date.now() - openedAt).toBeLessThan((TTL_SECONDS + 2) * 1000);
    // A socket without a session has nothing to expire.
    expect(anonymous.closed()).toBeNull();
    anonymous.close();
  });

  it("the web client refreshes, reconnects and resumes its feed from the last event: nothing missed", async () => {
    const user = await system.user();
    // A cookie jar, as the browser keeps one: the socket's upgrade and the refresh both carry it.
    const jar = new Map<string, string>();
    const keep = (setCookies: string[]) => {
      for (const line of setCookies) {
        const [pair = ""] = line.split(";");
        const [name = "", value = ""] = pair.split("=");
        if (value) jar.set(name.trim(), value.trim());
        else jar.delete(name.trim());
      }
    };
    const cookieHeader = () => [...jar].map(([name, value]) => `${name}=${value}`).join("; ");
    keep((await web.login(user.email, user.password)).cookies);

    class BrowserLikeSocket extends WebSocket {
      constructor(url: string) {
        super(url, { headers: { cookie: cookieHeader(), origin: web.base } });
      }
    }

    /** An order placed over REST by a separate session (so that it never depends on the socket's). */
    const placeOrder = async (description: string) => {
      const { accessToken } = await web.login(user.email, user.password);
      const res = await web.post("/api/v1/orders", { amount: 100, description }, authHeader(accessToken));
      expect(res.status).toBe(201);
      return res.body.order.id as string;
    };

    const closes: Array<number | undefined> = [];
    let missedWhileAway: string | undefined;
    let refreshes = 0;
    const client = createLiveSocket({
      url: web.wsUrl,
      WebSocket: BrowserLikeSocket as unknown as typeof globalThis.WebSocket,
      onClose: (code) => closes.push(code),
      // The page's refresh (apps/web refreshSession): POST auth.refresh with the cookie. An order is
      // placed first, while no socket is open, so only the resume can deliver its event.
      refresh: async () => {
        refreshes++;
        missedWhileAway ??= await placeOrder("placed while the socket was down");
        const res = await fetch(`${web.base}/api/trpc/auth.refresh`, {
          method: "POST",
          headers: { "content-type": "application/json", cookie: cookieHeader() },
          body: "{}",
        });
        keep(res.headers.getSetCookie());
        return res.ok;
      },
    });
    const trpc = createTRPCClient<AppRouter>({ links: [wsLink({ client })] });
    const events: Array<{ position: number; orderId: string }> = [];
    const errors: unknown[] = [];
    let starts = 0;
    const subscription = trpc.orders.onStatusChange.subscribe(undefined, {
      onStarted: () => starts++,
      onData: ({ data }) => events.push(data as { position: number; orderId: string }),
      onError: (error) => errors.push(error),
    });
    try {
      await waitFor(() => starts > 0, { what: "the feed" });
      const before = await placeOrder("placed before expiry");
      await waitFor(() => events.some((e) => e.orderId === before), { what: "the first order's event" });

      await waitFor(() => closes.includes(SESSION_ENDED_CLOSE_CODE), {
        timeoutMs: (TTL_SECONDS + 5) * 1000,
        what: "the server ending the socket at expiry",
      });
      await waitFor(() => missedWhileAway && events.some((e) => e.orderId === missedWhileAway), {
        timeoutMs: 15_000,
        what: "the order placed while away, replayed on resume",
      });
      const after = await placeOrder("placed after the reconnect");
      await waitFor(() => events.some((e) => e.orderId === after), { what: "the live order after resume" });

      expect(errors).toEqual([]);
      expect(refreshes).toBeGreaterThanOrEqual(1);
      expect(events.map((e) => e.orderId)).toEqual([before, missedWhileAway, after]);
      expect(new Set(events.map((e) => e.position)).size).toBe(events.length);
    } finally {
      subscription.unsubscribe();
      await client.close();
    }
  });
});

describe("WebSocket: what one socket may cost, whoever holds it", () => {
  const MAX_BUFFERED = 256 * 1024;
  /** About 5 MB of events: more than the kernel's socket buffers take before the server's own fills. */
  const HISTORY = 6_000;
  let system: Instances;
  let web: WebInstance;
  let reader: { email: string; password: string };

  beforeAll(async () => {
    system = await startInstances(1, {
      socketLimits: { maxBufferedBytes: MAX_BUFFERED, stallMs: 5_000, anonymousMs: 1_000, frameBurst: 30 },
    });
    web = system.instances[0] as WebInstance;
    const user = await system.user();
    await history(web, user.id, HISTORY);
    reader = user;
  });
  afterAll(async () => system?.close());

  /** `count` orders of `userId` with long descriptions, straight into the order log, and their positions. */
  async function history(instance: WebInstance, userId: string, count: number) {
    const db = instance.deps.ordersDb;
    await db.$executeRaw`
      WITH created AS (
        INSERT INTO orders (id, user_id, amount, description, payment_request_id, updated_at)
        SELECT gen_random_uuid(), ${userId}::uuid, 100, repeat('a long description ', 25) || n,
               gen_random_uuid(), now()
        FROM generate_series(1, ${count}::int) AS n
        RETURNING id, user_id, status, created_at
      )
      INSERT INTO order_changes (order_id, user_id, status, at)
      SELECT id, user_id, status, created_at FROM created`;
    await waitFor(
      async () => {
        const [row] = await db.$queryRaw<{ n: bigint }[]>`
          SELECT count(*) AS n FROM order_changes WHERE position IS NULL`;
        return row?.n === 0n;
      },
      { timeoutMs: 60_000, what: "the positions of the history" },
    );
  }

  /** A socket replaying the reader's whole history to a client that stopped reading. */
  async function stalledReplay() {
    const { accessToken } = await web.login(reader.email, reader.password);
    const socket = rawSocket(web.wsUrl, { token: accessToken });
    await socket.opened;
    socket.subscribe(1, "orders.onStatusChange", { lastEventId: "0" });
    // What the server sends now stays in the server's buffer for this socket.
    (socket.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    await waitFor(() => web.websocketBuffers().waiting > 0, { timeoutMs: 30_000, what: "the feed to wait" });
    return socket;
  }

  it("pauses a replay while its client reads nothing, holding a bounded buffer, and resumes it whole", async () => {
    const socket = await stalledReplay();
    // One event past the limit at most: each waits for room before it is sent.
    expect(web.websocketBuffers().mostBuffered).toBeLessThan(MAX_BUFFERED + 4 * 1024);

    (socket.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    const positions = () =>
      socket.replies(1).flatMap((frame) => (frame.result?.type === "data" ? [Number(frame.result.id)] : []));
    await waitFor(() => positions().length === HISTORY, { timeoutMs: 60_000, what: "the whole replay" });
    expect(positions()).toEqual(Array.from({ length: HISTORY }, (_, i) => positions()[0]! + i));
    expect(web.websocketBuffers().mostBuffered).toBeLessThan(MAX_BUFFERED + 4 * 1024);
    socket.close();
  });

  it("cuts off a client that reads nothing for too long", async () => {
    const socket = await stalledReplay();
    await waitFor(() => web.websocketClients() === 0, { timeoutMs: 30_000, what: "the socket cut off" });
    await waitFor(() => web.websocketBuffers().waiting === 0, { what: "no feed left waiting" });
    // Reading again, the client finds its connection gone (and the app's client would reconnect).
    (socket.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await waitFor(() => socket.closed() !== null, { what: "the client to see the close" });
    expect(socket.closed()?.code).toBe(1006);
  });

  it("cuts off a socket that floods frames, and serves the others meanwhile", async () => {
    const user = await system.user();
    const { accessToken } = await web.login(user.email, user.password);
    const calm = rawSocket(web.wsUrl, { token: accessToken });
    await calm.opened;
    calm.subscribe(1, "orders.onStatusChange");
    await waitFor(() => calm.replies(1).some((frame) => frame.result?.type === "started"), {
      what: "the calm socket's feed",
    });
    // Signed in, so the anonymous grace does not close it first.
    const flood = rawSocket(web.wsUrl, { token: accessToken });
    await flood.opened;
    for (let i = 0; i < 200 && flood.ws.readyState === WebSocket.OPEN; i++) {
      flood.send([{ id: i, method: "query", params: { path: "auth.me" } }]);
    }
    await waitFor(() => flood.closed() !== null, { what: "the flooding socket cut off" });
    expect(flood.closed()?.code).toBe(1006);
    expect(calm.closed()).toBeNull();
    // A frame of more messages than a client ever batches is refused whole.
    const batch = Array.from({ length: 25 }, (_, i) => ({
      id: 100 + i,
      method: "subscription",
      params: { path: "orders.onStatusChange" },
    }));
    calm.send(batch);
    const refused = (frame: { error?: { message?: string } }) =>
      frame?.error?.message === "Batch call exceeds maximum size";
    await waitFor(() => calm.frames.some(refused), { what: "the batch refused" });
    const started = batch.flatMap(({ id }) => calm.replies(id)).filter((frame) => !refused(frame));
    expect(started).toEqual([]);
    calm.close();
  });

  it("tells a frame that is not JSON from JSON of the wrong shape", async () => {
    const user = await system.user();
    const { accessToken } = await web.login(user.email, user.password);
    const socket = rawSocket(web.wsUrl, { token: accessToken });
    await socket.opened;
    socket.send("{not json");
    socket.send({ id: { nested: true }, method: "subscription", params: { path: "orders.onStatusChange" } });
    await waitFor(() => socket.frames.filter((frame) => frame?.error).length >= 2, { what: "two errors" });
    const [notJson, wrongShape] = socket.frames.filter((frame) => frame?.error).map((frame) => frame.error);
    expect(notJson).toMatchObject({
      message: "The request body is not valid JSON",
      data: { code: "PARSE_ERROR" },
    });
    expect(wrongShape).toMatchObject({
      message: expect.stringMatching(/^Malformed message: /),
      data: { code: "PARSE_ERROR" },
    });
    socket.close();
  });

  it("closes a socket that is not signed in once its grace is over, with the session-ended code", async () => {
    const anonymous = rawSocket(web.wsUrl);
    // One that says it will send its token in a message and never does: tRPC makes no context for it.
    const silent = new WebSocket(`${web.wsUrl}?connectionParams=1`);
    let silentClose: number | null = null;
    silent.on("close", (code) => (silentClose = code));
    silent.on("error", () => undefined);
    const user = await system.user();
    const { accessToken } = await web.login(user.email, user.password);
    const signedIn = rawSocket(web.wsUrl, { token: accessToken });
    await Promise.all([anonymous.opened, signedIn.opened]);
    await waitFor(() => anonymous.closed() !== null && silentClose !== null, {
      timeoutMs: 10_000,
      what: "the anonymous sockets closed",
    });
    expect(anonymous.closed()?.code).toBe(SESSION_ENDED_CLOSE_CODE);
    expect(silentClose).toBe(SESSION_ENDED_CLOSE_CODE);
    // Opened with them, the signed-in one stays.
    signedIn.subscribe(1, "orders.onStatusChange");
    await waitFor(() => signedIn.replies(1).some((frame) => frame.result?.type === "started"), {
      what: "the signed-in socket's feed",
    });
    expect(signedIn.closed()).toBeNull();
    signedIn.close();
  });

  it("cuts off a client that keeps sending while it reads nothing of the answers", async () => {
    const more = await startInstances(1, {
      socketLimits: { maxBufferedBytes: MAX_BUFFERED, frameBurst: 10_000 },
    });
    try {
      const instance = more.instances[0] as WebInstance;
      const user = await more.user();
      const { accessToken } = await instance.login(user.email, user.password);
      const socket = rawSocket(instance.wsUrl, { token: accessToken });
      await socket.opened;
      (socket.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      // Each message names an unknown procedure, which its error repeats twice: ~130 KB of answers a frame.
      const path = "x".repeat(3_000);
      for (let frame = 0; frame < 400 && socket.ws.readyState === WebSocket.OPEN; frame++) {
        socket.send(
          Array.from({ length: 20 }, (_, i) => ({
            id: frame * 20 + i,
            method: "subscription",
            params: { path },
          })),
        );
        await new Promise((resolve) => setImmediate(resolve));
      }
      await waitFor(() => instance.websocketClients() === 0, {
        timeoutMs: 30_000,
        what: "the socket cut off",
      });
    } finally {
      await more.close();
    }
  });
});
