import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApi, strongPassword, uniqueEmail, type ApiHarness } from "./harness.ts";

let api: ApiHarness;
beforeAll(async () => {
  api = await startApi({ label: "api_auth" });
});
afterAll(async () => {
  await api?.close();
});

const setCookies = (headers: Headers) => headers.getSetCookie();
const cookieValue = (headers: Headers, name: string) =>
  setCookies(headers)
    .find((cookie) => cookie.startsWith(`${name}=`))
    ?.split(";")[0]
    ?.slice(name.length + 1);

describe("register → login → me", () => {
  it("registers a shopper (201), signs in (200) and reads itself back", async () => {
    const email = uniqueEmail("flow");
    const password = strongPassword();

    const registered = await api.rest.register(email, password);
    expect(registered.status).toBe(201);
    expect(registered.body.user).toMatchObject({ email, role: "SHOPPER" });
    expect(registered.body.accessToken).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(typeof registered.body.refreshToken).toBe("string");
    expect(registered.body.expiresIn).toBe(600);

    const loggedIn = await api.rest.login(email, password);
    expect(loggedIn.status).toBe(200);
    expect(loggedIn.body.user).toEqual(registered.body.user);

    const me = await api.rest.me(loggedIn.body.accessToken);
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ user: registered.body.user });

    const stored = await api.db.user.findUniqueOrThrow({ where: { email } });
    expect(stored.passwordHash).toMatch(/^\$argon2id\$/);
  });

  it("normalises the email: stored lower-case and trimmed, login in any case", async () => {
    const local = uniqueEmail("Case").replace("@example.com", "");
    const password = strongPassword();
    const registered = await api.rest.register(`  ${local.toUpperCase()}@Example.COM `, password);
    expect(registered.status).toBe(201);
    expect(registered.body.user.email).toBe(`${local.toLowerCase()}@example.com`);
    const loggedIn = await api.rest.login(`${local}@EXAMPLE.com`, password);
    expect(loggedIn.status).toBe(200);
  });

  it("a wrong password is 401, and so is an unknown email, with the same message", async () => {
    const email = uniqueEmail("wrong");
    const password = strongPassword();
    await api.rest.register(email, password);

    const wrong = await api.rest.login(email, `${password}x`);
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toMatchObject({ code: "UNAUTHORIZED", message: "Wrong email or password" });
    expect(wrong.body.error.requestId).toBeTruthy();

    const unknown = await api.rest.login(uniqueEmail("nobody"), password);
    expect(unknown.status).toBe(401);
    expect(unknown.body.error.message).toBe(wrong.body.error.message);
  });

  it("a taken email is 409 in any letter case", async () => {
    const email = uniqueEmail("dup");
    expect((await api.rest.register(email, strongPassword())).status).toBe(201);
    const again = await api.rest.register(email.toUpperCase(), strongPassword());
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("CONFLICT");
    expect(await api.db.user.count({ where: { email } })).toBe(1);
  });

  it("public registration never creates an admin", async () => {
    const email = uniqueEmail("sneaky");
    const response = await api.request("/api/v1/auth/register", {
      method: "POST",
      json: { email, password: strongPassword(), role: "ADMIN" },
    });
    // An unknown field is refused outright rather than silently dropped.
    expect(response.status).toBe(400);
    expect(response.body.error.fields).toEqual({ role: "is not a known field" });
    expect(await api.db.user.count({ where: { email } })).toBe(0);
  });

  it("a failed login for an unknown email costs as much as for a known one", async () => {
    const email = uniqueEmail("timing");
    const password = strongPassword();
    await api.rest.register(email, password);
    const time = async (who: string) => {
      const started = performance.now();
      const response = await api.rest.login(who, "not-the-password");
      expect(response.status).toBe(401);
      return performance.now() - started;
    };
    const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 7; i++) {
      known.push(await time(email));
      unknown.push(await time(uniqueEmail("ghost")));
    }
    const ratio = median(unknown) / median(known);
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });
});

describe("tokens", () => {
  it("an expired access token is 401; refresh gives a new pair that works", async () => {
    const email = uniqueEmail("expiry");
    const password = strongPassword();
    await api.rest.register(email, password);
    const { body: session } = await api.rest.login(email, password);
    expect((await api.rest.me(session.accessToken)).status).toBe(200);

    api.advanceClock(11 * 60 * 1000);
    const expired = await api.rest.me(session.accessToken);
    expect(expired.status).toBe(401);
    expect(expired.body.error.message).toMatch(/expired/);

    const refreshed = await api.rest.refresh(session.refreshToken);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.accessToken).not.toBe(session.accessToken);
    expect(refreshed.body.refreshToken).not.toBe(session.refreshToken);
    expect(refreshed.body.user.email).toBe(email);
    expect((await api.rest.me(refreshed.body.accessToken)).status).toBe(200);
  });

  it("reusing a spent refresh token is 401 and revokes the family: the newer token fails too", async () => {
    const email = uniqueEmail("reuse");
    const { body: session } = await api.rest.register(email, strongPassword());
    const second = await api.rest.refresh(session.refreshToken);
    expect(second.status).toBe(200);
    const third = await api.rest.refresh(second.body.refreshToken);
    expect(third.status).toBe(200);

    const replay = await api.rest.refresh(session.refreshToken);
    expect(replay.status).toBe(401);
    expect(replay.body.error.message).toMatch(/already used/);

    const newest = await api.rest.refresh(third.body.refreshToken);
    expect(newest.status).toBe(401);
    const user = await api.db.user.findUniqueOrThrow({ where: { email } });
    const live = await api.db.refreshToken.count({ where: { userId: user.id, revokedAt: null } });
    expect(live).toBe(0);
    expect(api.logLines.some((line) => line.includes("refresh token reused"))).toBe(true);
  });

  it("another sign-in's family survives a reuse in one family", async () => {
    const email = uniqueEmail("families");
    const password = strongPassword();
    const { body: laptop } = await api.rest.register(email, password);
    const { body: phone } = await api.rest.login(email, password);
    await api.rest.refresh(laptop.refreshToken);
    api.advanceClock(60 * 1000); // past the grace period for a repeated refresh
    expect((await api.rest.refresh(laptop.refreshToken)).status).toBe(401);
    expect((await api.rest.refresh(phone.refreshToken)).status).toBe(200);
  });

  it("refresh without a token, or with garbage, is 401", async () => {
    expect((await api.request("/api/v1/auth/refresh", { method: "POST" })).status).toBe(401);
    expect((await api.rest.refresh("not-a-token")).status).toBe(401);
  });

  it("logout revokes the refresh token and clears the cookies", async () => {
    const { body: session } = await api.rest.register(uniqueEmail("logout"), strongPassword());
    const out = await api.rest.logout(session.refreshToken);
    expect(out.status).toBe(200);
    expect(out.body).toEqual({ ok: true });
    const cleared = setCookies(out.headers);
    expect(cleared.some((cookie) => /^gozon_at=;.*Max-Age=0/.test(cookie))).toBe(true);
    expect(cleared.some((cookie) => /^gozon_rt=;.*Max-Age=0/.test(cookie))).toBe(true);
    expect((await api.rest.refresh(session.refreshToken)).status).toBe(401);
  });

  it("a token signed with another secret, or a malformed bearer header, is 401; another scheme is no token", async () => {
    const { SignJWT } = await import("jose");
    const forged = await new SignJWT({ role: "ADMIN" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("00000000-0000-4000-8000-000000000000")
      .setIssuer("gozon")
      .setAudience("gozon-api")
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode("x".repeat(40)));
    expect((await api.rest.me(forged)).status).toBe(401);
    // The right secret, but no session (`sid`): a token no logout could revoke is no token.
    const { body: registered } = await api.rest.register(uniqueEmail("nosid"), strongPassword());
    const sessionless = await new SignJWT({ role: "SHOPPER" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(registered.user.id)
      .setIssuer("gozon")
      .setAudience("gozon-api")
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(api.deps.config.JWT_SECRET));
    const refused = await api.rest.me(sessionless);
    expect(refused.status).toBe(401);
    expect(refused.body.error.message).toMatch(/invalid/);
    expect((await api.rest.me(registered.accessToken)).status).toBe(200);
    const malformed = await api.request("/api/v1/auth/me", { headers: { authorization: "Bearer a b" } });
    expect(malformed.status).toBe(401);
    expect(malformed.body.error.message).toMatch(/invalid/);
    // A gateway's Basic credentials are not ours: the caller is as signed in as without them (here, not).
    const basic = await api.request("/api/v1/auth/me", { headers: { authorization: "Basic abc" } });
    expect(basic.status).toBe(401);
    expect(basic.body.error.message).toBe("Sign in first");
  });
});

describe("cookies (browser sessions)", () => {
  it("login sets httpOnly SameSite=Lax cookies that authenticate me and refresh", async () => {
    const email = uniqueEmail("cookie");
    const password = strongPassword();
    await api.rest.register(email, password);
    const login = await api.rest.login(email, password);
    const cookies = setCookies(login.headers);
    const access = cookies.find((cookie) => cookie.startsWith("gozon_at="))!;
    const refresh = cookies.find((cookie) => cookie.startsWith("gozon_rt="))!;
    expect(access).toMatch(/HttpOnly/);
    expect(access).toMatch(/SameSite=Lax/);
    expect(access).toMatch(/Path=\//);
    expect(access).not.toMatch(/Secure/);
    expect(refresh).toMatch(/HttpOnly/);
    expect(refresh).toMatch(/Path=\/api(;|$)/);
    expect(cookieValue(login.headers, "gozon_at")).toBe(login.body.accessToken);

    const at = cookieValue(login.headers, "gozon_at");
    const rt = cookieValue(login.headers, "gozon_rt");
    const me = await api.request("/api/v1/auth/me", { headers: { cookie: `gozon_at=${at}` } });
    expect(me.status).toBe(200);
    expect(me.body.user.email).toBe(email);

    const refreshed = await api.request("/api/v1/auth/refresh", {
      method: "POST",
      headers: { cookie: `gozon_rt=${rt}`, "content-type": "application/json" },
    });
    expect(refreshed.status).toBe(200);
    expect(cookieValue(refreshed.headers, "gozon_rt")).toBe(refreshed.body.refreshToken);

    const out = await api.request("/api/v1/auth/logout", {
      method: "POST",
      headers: {
        cookie: `gozon_rt=${cookieValue(refreshed.headers, "gozon_rt")}`,
        "content-type": "application/json",
      },
    });
    expect(out.status).toBe(200);
    const again = await api.request("/api/v1/auth/refresh", {
      method: "POST",
      headers: {
        cookie: `gozon_rt=${cookieValue(refreshed.headers, "gozon_rt")}`,
        "content-type": "application/json",
      },
    });
    expect(again.status).toBe(401);
  });

  it("X-Forwarded-Proto is ignored without TRUST_PROXY: no Secure cookies for a forged header", async () => {
    const email = uniqueEmail("insecure");
    const password = strongPassword();
    await api.rest.register(email, password);
    const login = await api.rest.login(email, password, { "x-forwarded-proto": "https" });
    expect(setCookies(login.headers).some((cookie) => /; Secure/.test(cookie))).toBe(false);
  });
});

describe("tRPC over HTTP", () => {
  it("serves the same procedures at /api/trpc", async () => {
    const email = uniqueEmail("trpc");
    const password = strongPassword();
    const registered = await api.request("/api/trpc/auth.register", {
      method: "POST",
      json: { email, password },
    });
    expect(registered.status).toBe(200);
    expect(registered.body.result.data.user.email).toBe(email);

    const me = await api.request("/api/trpc/auth.me", {
      headers: { authorization: `Bearer ${registered.body.result.data.accessToken}` },
    });
    expect(me.status).toBe(200);
    expect(me.body.result.data.user.email).toBe(email);

    const anonymous = await api.request("/api/trpc/auth.me");
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.data.code).toBe("UNAUTHORIZED");
    expect(anonymous.body.error.data.stack).toBeUndefined();

    const refreshed = await api.request("/api/trpc/auth.refresh", {
      method: "POST",
      json: { refreshToken: registered.body.result.data.refreshToken },
    });
    expect(refreshed.status).toBe(200);
    // No input at all: the refresh cookie is used (here: none, so 401).
    const bare = await api.request("/api/trpc/auth.refresh", {
      method: "POST",
      headers: { "content-type": "application/json" },
    });
    expect(bare.status).toBe(401);
  });

  it("paths outside /api/trpc and /api/v1 are left to the caller", async () => {
    expect((await api.request("/")).status).toBe(418);
    expect((await api.request("/api/health")).status).toBe(418);
    expect((await api.request("/api/trpcx")).status).toBe(418);
    const missing = await api.request("/api/v1/nothing-here");
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("NOT_FOUND");
  });
});
