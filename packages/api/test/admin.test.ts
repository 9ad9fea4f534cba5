import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootstrapAdmin } from "../src/identity/bootstrap-admin.ts";
import { startApi, strongPassword, uniqueEmail, type ApiHarness } from "./harness.ts";

const ADMIN_EMAIL = uniqueEmail("root");
const ADMIN_PASSWORD = strongPassword();

let api: ApiHarness;
let adminToken: string;
beforeAll(async () => {
  api = await startApi({ label: "api_admin", env: { ADMIN_EMAIL, ADMIN_PASSWORD } });
  await bootstrapAdmin(api.deps);
  adminToken = (await api.rest.login(ADMIN_EMAIL, ADMIN_PASSWORD)).body.accessToken;
});
afterAll(async () => {
  await api?.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("bootstrap admin", () => {
  it("exists after start, and starting again changes nothing (one admin)", async () => {
    const before = await api.db.user.findUniqueOrThrow({ where: { email: ADMIN_EMAIL } });
    expect(before.role).toBe("ADMIN");
    const again = await bootstrapAdmin(api.deps);
    expect(again).toMatchObject({ action: "exists", userId: before.id, passwordMatches: true });
    await bootstrapAdmin(api.deps);
    expect(await api.db.user.count({ where: { email: ADMIN_EMAIL } })).toBe(1);
    const after = await api.db.user.findUniqueOrThrow({ where: { email: ADMIN_EMAIL } });
    expect(after.passwordHash).toBe(before.passwordHash);
  });

  it("concurrent starts still make exactly one admin", async () => {
    const email = uniqueEmail("racer");
    const deps = {
      ...api.deps,
      config: { ...api.deps.config, ADMIN_EMAIL: email, ADMIN_PASSWORD: strongPassword() },
    };
    const outcomes = await Promise.all([bootstrapAdmin(deps), bootstrapAdmin(deps), bootstrapAdmin(deps)]);
    expect(outcomes.filter((outcome) => outcome.action === "created")).toHaveLength(1);
    expect(await api.db.user.count({ where: { email } })).toBe(1);
  });

  it("a changed ADMIN_PASSWORD never overwrites the existing admin's password (and says so in the log)", async () => {
    const email = uniqueEmail("rotating");
    const first = strongPassword();
    const second = strongPassword();
    const withPassword = (password: string) => ({
      ...api.deps,
      config: { ...api.deps.config, ADMIN_EMAIL: email.toUpperCase(), ADMIN_PASSWORD: password },
    });
    expect((await bootstrapAdmin(withPassword(first))).action).toBe("created");
    const session = await api.rest.login(email, first);
    expect(session.status).toBe(200);

    const logged = api.logLines.length;
    expect(await bootstrapAdmin(withPassword(second))).toMatchObject({
      action: "exists",
      passwordMatches: false,
      role: "ADMIN",
    });
    expect(api.logLines.slice(logged).join("\n")).toMatch(/its password is kept/);
    expect(await api.db.user.count({ where: { email } })).toBe(1);
    expect((await api.rest.login(email, first)).status).toBe(200);
    expect((await api.rest.login(email, second)).status).toBe(401);
    expect((await api.rest.refresh(session.body.refreshToken)).status).toBe(200);
  });

  it("ADMIN_EMAIL naming an existing shopper leaves it a shopper, with its own password", async () => {
    const email = uniqueEmail("promoted");
    const password = strongPassword();
    await api.rest.register(email, password);
    const outcome = await bootstrapAdmin({
      ...api.deps,
      config: { ...api.deps.config, ADMIN_EMAIL: email, ADMIN_PASSWORD: strongPassword() },
    });
    expect(outcome).toMatchObject({ action: "exists", role: "SHOPPER", passwordMatches: false });
    const user = await api.db.user.findUniqueOrThrow({ where: { email } });
    expect(user.role).toBe("SHOPPER");
    expect((await api.rest.login(email, password)).status).toBe(200);
  });

  it("without ADMIN_EMAIL nothing happens", async () => {
    const logged = api.logLines.length;
    const outcome = await bootstrapAdmin({
      ...api.deps,
      config: { ...api.deps.config, ADMIN_EMAIL: undefined, ADMIN_PASSWORD: undefined },
    });
    expect(outcome).toEqual({ action: "skipped" });
    expect(api.logLines.slice(logged).join("\n")).not.toMatch(/no admin exists/); // one does
  });

  it("without ADMIN_EMAIL and without any admin, says that nobody could ever become one", async () => {
    const empty = await startApi({ label: "api_no_admin" });
    try {
      const outcome = await bootstrapAdmin({
        ...empty.deps,
        config: { ...empty.deps.config, ADMIN_EMAIL: undefined, ADMIN_PASSWORD: undefined },
      });
      expect(outcome).toEqual({ action: "skipped" });
      expect(empty.logLines.join("\n")).toMatch(/no admin exists and ADMIN_EMAIL is unset/);
    } finally {
      await empty.close();
    }
  });
});

describe("admin procedures", () => {
  it("anonymous → 401, shopper → 403, admin → 200", async () => {
    const anonymous = await api.request("/api/v1/admin/users");
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toBe("UNAUTHORIZED");

    const shopper = await api.rest.register(uniqueEmail("shopper"), strongPassword());
    const forbidden = await api.request("/api/v1/admin/users", { headers: bearer(shopper.body.accessToken) });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe("FORBIDDEN");

    const createByShopper = await api.request("/api/v1/admin/admins", {
      method: "POST",
      headers: bearer(shopper.body.accessToken),
      json: { email: uniqueEmail("nope"), password: strongPassword() },
    });
    expect(createByShopper.status).toBe(403);

    const trpcForbidden = await api.request("/api/trpc/admin.findUsers", {
      headers: bearer(shopper.body.accessToken),
    });
    expect(trpcForbidden.status).toBe(403);

    const allowed = await api.request("/api/v1/admin/users", { headers: bearer(adminToken) });
    expect(allowed.status).toBe(200);
  });

  it("findUsers searches by email fragment (any case), pages, and shows account null", async () => {
    const tag = `find${Date.now().toString(36)}`;
    const emails = await Promise.all(
      [1, 2, 3, 4, 5].map(async (n) => {
        const email = `${tag}-${n}@example.com`;
        await api.rest.register(email, strongPassword());
        return email;
      }),
    );
    const first = await api.request(`/api/v1/admin/users?email=${tag.toUpperCase()}&limit=2`, {
      headers: bearer(adminToken),
    });
    expect(first.status).toBe(200);
    expect(first.body.users.map((user: { email: string }) => user.email)).toEqual(emails.slice(0, 2));
    expect(first.body.users[0]).toMatchObject({ role: "SHOPPER", account: null });
    expect(first.body.users[0].id).toMatch(/^[0-9a-f-]{36}$/);
    // An opaque cursor, as every other list's: not the email itself.
    expect(first.body.nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(first.body.nextCursor).not.toContain(tag);

    const seen = [...first.body.users];
    let cursor = first.body.nextCursor;
    while (cursor) {
      const page = await api.request(
        `/api/v1/admin/users?email=${tag}&limit=2&cursor=${encodeURIComponent(cursor)}`,
        { headers: bearer(adminToken) },
      );
      seen.push(...page.body.users);
      cursor = page.body.nextCursor;
    }
    expect(seen.map((user) => user.email)).toEqual(emails);
    expect(JSON.stringify(seen)).not.toMatch(/password|argon/i);
  });

  it("findUsers: a cursor that is not one of its own (an email, edited, another list's) is a 400 naming it", async () => {
    const tag = `cur${Date.now().toString(36)}`;
    for (const n of [1, 2, 3]) await api.rest.register(`${tag}-${n}@example.com`, strongPassword());
    const page = async (cursor: string) =>
      api.request(`/api/v1/admin/users?email=${tag}&limit=1&cursor=${encodeURIComponent(cursor)}`, {
        headers: bearer(adminToken),
      });
    const first = await api.request(`/api/v1/admin/users?email=${tag}&limit=1`, {
      headers: bearer(adminToken),
    });
    const cursor: string = first.body.nextCursor;
    expect((await page(cursor)).body.users.map((user: { email: string }) => user.email)).toEqual([
      `${tag}-2@example.com`,
    ]);

    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const ordersCursor = (await api.request("/api/v1/admin/orders?limit=1", { headers: bearer(adminToken) }))
      .body.nextCursor as string | null;
    const bad = {
      "a word": "zzz",
      "an email": `${tag}-1@example.com`,
      "an edited cursor": `${cursor.slice(0, -2)}${cursor.endsWith("A") ? "B" : "A"}`,
      "another list's cursor":
        ordersCursor ?? encode(["admin.orders", [new Date().toISOString(), randomUUID()]]),
      "the ledger's tag": encode(["ledger", `${tag}-1@example.com`]),
      "a NUL in the position": encode(["admin.users", "a\u0000b"]),
      empty: "",
    };
    for (const [what, text] of Object.entries(bad)) {
      const response = await page(text);
      expect([what, response.status]).toEqual([what, 400]);
      expect(response.body.error.fields).toEqual({
        cursor: "must be the nextCursor of a previous page of this list",
      });
      const trpc = await api.trpc.query("admin.findUsers", { email: tag, cursor: text }, adminToken);
      expect([what, trpc.status]).toEqual([what, 400]);
      expect(Object.keys(trpc.body.error.data.fields)).toEqual(["cursor"]);
    }
    // tRPC pages with the same cursor.
    const trpc = await api.trpc.query("admin.findUsers", { email: tag, limit: 1, cursor }, adminToken);
    expect(trpc.status).toBe(200);
    expect(trpc.body.result.data.users.map((user: { email: string }) => user.email)).toEqual([
      `${tag}-2@example.com`,
    ]);
  });

  it("findUsers matches `_` and `%` in the fragment literally, not as LIKE wildcards", async () => {
    const tag = `lit${Date.now().toString(36)}`;
    const underscore = `${tag}first_last@x.io`;
    await api.rest.register(underscore, strongPassword());
    await api.rest.register(`${tag}firstXlast@x.io`, strongPassword());
    // No email the API registers may hold `%`: put one in directly.
    const percent = `${tag}per%cent@x.io`;
    await api.db.user.create({ data: { email: percent, role: "SHOPPER", passwordHash: "unused" } });
    const search = async (fragment: string) => {
      const response = await api.request(
        `/api/v1/admin/users?limit=100&email=${encodeURIComponent(fragment)}`,
        { headers: bearer(adminToken) },
      );
      expect(response.status).toBe(200);
      return response.body.users.map((user: { email: string }) => user.email);
    };

    expect(await search(`${tag}first_last`)).toEqual([underscore]);
    expect(await search("_")).toEqual([underscore]);
    expect(await search("%")).toEqual([percent]);
    expect(await search("per%c")).toEqual([percent]);
    expect(await search("\\")).toEqual([]);
  });

  it.each([
    ["admin.findUsers", "/api/v1/admin/users"],
    ["admin.listOrders", "/api/v1/admin/orders"],
    ["admin.listPayments", "/api/v1/admin/payments"],
  ])("%s: after a REST call, a tRPC limit that is not a number is a 400 naming it", async (path, rest) => {
    expect((await api.request(`${rest}?limit=5`, { headers: bearer(adminToken) })).status).toBe(200);
    for (const limit of [true, [50], "5.0"]) {
      const response = await api.trpc.query(path, { limit }, adminToken);
      expect(response.status, JSON.stringify(limit)).toBe(400);
      expect(Object.keys(response.body.error.data.fields)).toEqual(["limit"]);
    }
  });

  it("findUsers shows the accounts the payments service reports", async () => {
    const withAccounts = await startApi({
      label: "api_admin_acc",
      env: { ADMIN_EMAIL, ADMIN_PASSWORD },
      accountsOf: async (ids) => new Map(ids.map((userId) => [userId, { userId, balance: 12_345 }])),
    });
    try {
      await bootstrapAdmin(withAccounts.deps);
      const token = (await withAccounts.rest.login(ADMIN_EMAIL, ADMIN_PASSWORD)).body.accessToken;
      const found = await withAccounts.request(`/api/v1/admin/users?email=${ADMIN_EMAIL}`, {
        headers: bearer(token),
      });
      expect(found.body.users).toEqual([
        expect.objectContaining({
          email: ADMIN_EMAIL,
          account: { userId: expect.any(String), balance: 12_345 },
        }),
      ]);
    } finally {
      await withAccounts.close();
    }
  });

  it("createAdmin makes an admin (201) who can use admin procedures; a taken email is 409", async () => {
    const email = uniqueEmail("second-admin");
    const password = strongPassword();
    const created = await api.request("/api/v1/admin/admins", {
      method: "POST",
      headers: bearer(adminToken),
      json: { email, password },
    });
    expect(created.status).toBe(201);
    expect(created.body.user).toMatchObject({ email, role: "ADMIN" });

    const login = await api.rest.login(email, password);
    expect(login.body.user.role).toBe("ADMIN");
    const list = await api.request("/api/v1/admin/users", { headers: bearer(login.body.accessToken) });
    expect(list.status).toBe(200);

    const again = await api.request("/api/v1/admin/admins", {
      method: "POST",
      headers: bearer(adminToken),
      json: { email: email.toUpperCase(), password },
    });
    expect(again.status).toBe(409);
  });
});

describe("admin.outboxParked (GET /admin/outbox/parked)", () => {
  /** A row as the relay leaves it when it parks one (`at` seconds ago), beside an unsent and a sent one. */
  const park = (db: ApiHarness["deps"]["ordersDb"], type: string, secondsAgo: number) => {
    const id = randomUUID();
    return db.$executeRaw`
      INSERT INTO outbox (id, queue, type, payload, attempts, failures, last_error, parked_at)
      VALUES (${id}::uuid, 'q', ${type}, '{}'::jsonb, 12, 10, 'WRONGTYPE Operation against a key',
              now() - make_interval(secs => ${secondsAgo}::int))`.then(() => id);
  };

  it("counts each service's parked rows and lists the latest, to admins only", async () => {
    const { ordersDb, paymentsDb } = api.deps;
    const older = await park(ordersDb, "PaymentRequested", 60);
    const newer = await park(ordersDb, "PaymentRequested", 5);
    const result = await park(paymentsDb, "PaymentSucceeded", 30);
    for (const db of [ordersDb, paymentsDb]) {
      await db.$executeRaw`
        INSERT INTO outbox (id, queue, type, payload, sent_at)
        VALUES (${randomUUID()}::uuid, 'q', 't', '{}'::jsonb, NULL), (${randomUUID()}::uuid, 'q', 't', '{}'::jsonb, now())`;
    }

    const res = await api.request("/api/v1/admin/outbox/parked", { headers: bearer(adminToken) });
    expect(res.status).toBe(200);
    expect(res.body.orders.parked).toBe(2);
    expect(res.body.orders.latest.map((row: { id: string }) => row.id)).toEqual([newer, older]);
    expect(res.body.orders.latest[0]).toMatchObject({
      type: "PaymentRequested",
      queue: "q",
      attempts: 12,
      failures: 10,
      lastError: "WRONGTYPE Operation against a key",
      createdAt: expect.any(String),
      parkedAt: expect.any(String),
    });
    expect(res.body.payments).toMatchObject({
      parked: 1,
      latest: [{ id: result, type: "PaymentSucceeded" }],
    });

    const trpc = await api.trpc.query("admin.outboxParked", undefined, adminToken);
    expect(trpc.status).toBe(200);
    expect(trpc.body.result.data.payments.parked).toBe(1);

    const shopper = await api.rest.register(uniqueEmail("parked"), strongPassword());
    const forbidden = await api.request("/api/v1/admin/outbox/parked", {
      headers: bearer(shopper.body.accessToken),
    });
    expect(forbidden.status).toBe(403);
    expect((await api.request("/api/v1/admin/outbox/parked")).status).toBe(401);
  });
});
