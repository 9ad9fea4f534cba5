import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REFRESH_COOKIE } from "../src/cookies.ts";
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

  it("API clients (no browser headers, or Authorization) still get it in the body", async () => {
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
