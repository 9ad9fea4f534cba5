import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IncomingMessage } from "node:http";
import { createContextFromHeaders, createContextFromUpgrade } from "../src/context.ts";
import { bootstrapAdmin } from "../src/identity/bootstrap-admin.ts";
import { startApi, strongPassword, uniqueEmail, type ApiHarness } from "./harness.ts";

const ADMIN_EMAIL = uniqueEmail("sec-admin");
const ADMIN_PASSWORD = `Admin-${strongPassword()}`;

let api: ApiHarness;
let accountsFail = false;
beforeAll(async () => {
  api = await startApi({
    label: "api_security",
    env: { ADMIN_EMAIL, ADMIN_PASSWORD },
    accountsOf: async () => {
      if (accountsFail)
        throw new Error('relation "accounts" does not exist: SELECT balance FROM accounts WHERE 1=1');
      return new Map();
    },
  });
  await bootstrapAdmin(api.deps);
});
afterAll(async () => {
  await api?.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("internal errors", () => {
  it("are a generic 500 with a request id: no message, stack or SQL; the log has the detail", async () => {
    const admin = await api.rest.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    accountsFail = true;
    try {
      const rest = await api.request("/api/v1/admin/users", { headers: bearer(admin.body.accessToken) });
      expect(rest.status).toBe(500);
      expect(rest.body).toEqual({
        error: {
          code: "INTERNAL_SERVER_ERROR",
          message: "Internal server error",
          requestId: expect.any(String),
        },
      });
      const trpc = await api.request("/api/trpc/admin.findUsers", {
        headers: bearer(admin.body.accessToken),
      });
      expect(trpc.status).toBe(500);
      expect(trpc.body.error.message).toBe("Internal server error");
      expect(trpc.body.error.data.stack).toBeUndefined();
      for (const text of [rest.text, trpc.text]) {
        expect(text).not.toMatch(/SELECT|relation|accounts|\.ts:\d+|node_modules/);
      }
      const logged = api.logLines.find(
        (line) => line.includes(rest.body.error.requestId) && line.includes("procedure failed"),
      );
      expect(logged).toMatch(/relation \\"accounts\\" does not exist/);
    } finally {
      accountsFail = false;
    }
  });
});

describe("WebSocket identification (createContextFromHeaders)", () => {
  it("reads the access cookie of an upgrade request, a connection-param token, or a Headers bearer", async () => {
    const email = uniqueEmail("ws");
    const { body: session } = await api.rest.register(email, strongPassword());
    const expected = { id: session.user.id, role: "SHOPPER" };

    const fromCookie = await createContextFromHeaders(api.deps, {
      cookie: `other=1; gozon_at=${session.accessToken}`,
    });
    expect(fromCookie.user).toEqual(expected);

    const fromParams = await createContextFromHeaders(
      api.deps,
      {},
      { connectionParams: { token: session.accessToken } },
    );
    expect(fromParams.user).toEqual(expected);

    const fromHeaders = await createContextFromHeaders(api.deps, new Headers(bearer(session.accessToken)));
    expect(fromHeaders.user).toEqual(expected);

    const upgrade = {
      headers: { cookie: `gozon_at=${session.accessToken}` },
      socket: { remoteAddress: "::ffff:10.1.2.3" },
    } as unknown as IncomingMessage;
    expect(await createContextFromUpgrade(api.deps, upgrade)).toMatchObject({
      user: expected,
      ip: "10.1.2.3",
    });
    const upgradeWithParams = { headers: {}, socket: {} } as unknown as IncomingMessage;
    const viaParams = await createContextFromUpgrade(api.deps, upgradeWithParams, {
      token: session.accessToken,
    });
    expect(viaParams.user).toEqual(expected);

    const anonymous = await createContextFromHeaders(api.deps, {});
    expect(anonymous).toMatchObject({ user: null, authProblem: null });
    anonymous.setCookies(["x=1"]); // no response to set cookies on: a no-op, not a crash

    const garbage = await createContextFromHeaders(api.deps, {}, { connectionParams: { token: "nonsense" } });
    expect(garbage).toMatchObject({ user: null, authProblem: "invalid" });

    api.advanceClock(11 * 60 * 1000);
    const expired = await createContextFromHeaders(api.deps, { cookie: `gozon_at=${session.accessToken}` });
    expect(expired).toMatchObject({ user: null, authProblem: "expired" });
  });

  it("gives each request an id (the caller's X-Request-Id when sane) and echoes it", async () => {
    const mine = await api.request("/api/v1/auth/me", { headers: { "x-request-id": "trace-123" } });
    expect(mine.headers.get("x-request-id")).toBe("trace-123");
    expect(mine.body.error.requestId).toBe("trace-123");
    const weird = await api.request("/api/v1/auth/me", { headers: { "x-request-id": "bad id with spaces" } });
    expect(weird.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(mine.headers.get("cache-control")).toBe("no-store");
  });
});

describe("secrets", () => {
  it("no response, log line or error contains a password or a password hash", async () => {
    const passwords = [ADMIN_PASSWORD];
    const use = (password: string) => (passwords.push(password), password);

    // A representative session of everything that handles a password.
    const email = uniqueEmail("secret");
    const password = use(`Secret-${strongPassword()}`);
    const registered = await api.rest.register(email, password);
    expect(registered.status).toBe(201);
    await api.rest.register(email.toUpperCase(), use(`Dup-${strongPassword()}`)); // 409
    await api.rest.login(email, use(`Wrong-${strongPassword()}`)); // 401
    await api.rest.login(uniqueEmail("ghost"), use(`Ghost-${strongPassword()}`)); // 401
    await api.rest.register(uniqueEmail("short"), use("Sh0rt!")); // 400
    await api.rest.register("not-an-email", use(`BadEmail-${strongPassword()}`)); // 400
    await api.rest.register(uniqueEmail("long"), use(`Long-${"p".repeat(200)}`)); // 400
    await api.request("/api/v1/auth/login", {
      method: "POST",
      body: `{"email":"${email}","password":"${use(`Broken-${strongPassword()}`)}"`,
      headers: { "content-type": "application/json" },
    }); // malformed JSON
    await api.request("/api/trpc/auth.register", {
      method: "POST",
      json: { email, password: use(`Trpc-${strongPassword()}`) },
    });
    const login = await api.rest.login(email, password);
    await api.rest.me(login.body.accessToken);
    const admin = await api.rest.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    await api.request(`/api/v1/admin/users?email=${email}`, { headers: bearer(admin.body.accessToken) });
    await api.request("/api/v1/admin/admins", {
      method: "POST",
      headers: bearer(admin.body.accessToken),
      json: { email: uniqueEmail("admin2"), password: use(`NewAdmin-${strongPassword()}`) },
    });
    await api.rest.refresh(login.body.refreshToken);
    await api.rest.logout(login.body.refreshToken);

    const hashes = (await api.db.user.findMany({ select: { passwordHash: true } })).map(
      (user) => user.passwordHash,
    );
    expect(hashes.length).toBeGreaterThan(2);
    const secrets = [...passwords, ...hashes, ...hashes.map((hash) => hash.split("$").at(-1)!)];

    // Everything this file's server said and logged (the earlier tests included).
    const said = api.exchanges.map((exchange) => `${exchange.headers}\n${exchange.body}`);
    expect(said.length).toBeGreaterThan(15);
    expect(api.logLines.length).toBeGreaterThan(15);
    for (const secret of secrets) {
      for (const text of said) expect(text.includes(secret), `a response contains ${secret}`).toBe(false);
      for (const line of api.logLines)
        expect(line.includes(secret), `a log line contains ${secret}`).toBe(false);
    }
    for (const text of [...said, ...api.logLines]) expect(text).not.toMatch(/\$argon2/);
  });
});
