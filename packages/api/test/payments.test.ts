import { randomUUID } from "node:crypto";
import { request } from "node:http";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { waitFor } from "@gozon/core/testing";
import { balanceEventsChannel, parseBalanceEvent, type BalanceEvent } from "@gozon/payments/balance-events";
import { bootstrapAdmin } from "../src/identity/bootstrap-admin.ts";
import { startApi, strongPassword, uniqueEmail, type ApiHarness } from "./harness.ts";

const ADMIN_EMAIL = uniqueEmail("pay-admin");
const ADMIN_PASSWORD = strongPassword();

let api: ApiHarness;
let adminToken: string;
beforeAll(async () => {
  api = await startApi({ label: "api_payments", env: { ADMIN_EMAIL, ADMIN_PASSWORD } });
  await bootstrapAdmin(api.deps);
  adminToken = (await api.rest.login(ADMIN_EMAIL, ADMIN_PASSWORD)).body.accessToken;
});
afterAll(async () => {
  await api?.close();
});

const createAccount = (token?: string) =>
  api.request("/api/v1/accounts", { method: "POST", headers: api.bearer(token) });
const getAccount = (token?: string) => api.request("/api/v1/accounts/me", { headers: api.bearer(token) });
const topUp = (token: string, body: unknown, key?: string) =>
  api.request("/api/v1/accounts/me/top-up", {
    method: "POST",
    headers: api.bearer(token, key === undefined ? {} : { "idempotency-key": key }),
    json: body,
  });
const adminTopUp = (token: string, userId: string, body: unknown, key?: string) =>
  api.request(`/api/v1/admin/users/${userId}/top-up`, {
    method: "POST",
    headers: api.bearer(token, key === undefined ? {} : { "idempotency-key": key }),
    json: body,
  });

/** A shopper with an open account holding `balance`. */
async function shopperWithAccount(balance = 0) {
  const shopper = await api.shopper("payer");
  expect((await createAccount(shopper.token)).status).toBe(201);
  if (balance > 0) expect((await topUp(shopper.token, { amount: balance })).status).toBe(200);
  return shopper;
}

const ledgerOf = (userId: string) =>
  api.paymentsDb.$queryRaw<{ kind: string; amount: bigint }[]>`
    SELECT kind::text AS kind, amount FROM ledger_entries WHERE user_id = ${userId}::uuid ORDER BY id`;

async function balanceOf(userId: string) {
  const [row] = await api.paymentsDb.$queryRaw<{ balance: bigint }[]>`
    SELECT balance FROM accounts WHERE user_id = ${userId}::uuid`;
  return row ? Number(row.balance) : null;
}

/** The balance events of `userId` this web's channel carries from now on, collected as they come. */
async function balanceEventsOf(userId: string) {
  const events: BalanceEvent[] = [];
  const subscriber = new Redis(api.config.REDIS_URL);
  onTestFinished(() => void subscriber.disconnect());
  subscriber.on("message", (_channel: string, raw: string) => {
    const event = parseBalanceEvent(api.deps.signingKey, raw);
    if (event?.userId === userId) events.push(event);
  });
  await subscriber.subscribe(balanceEventsChannel(api.redisPrefix));
  return events;
}

describe("payments.createAccount and getAccount (REST)", () => {
  it("opens an account with balance 0 (201), reads it back, and a second call is 409", async () => {
    const shopper = await api.shopper();
    expect((await getAccount(shopper.token)).status).toBe(404);

    const created = await createAccount(shopper.token);
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ account: { userId: shopper.userId, balance: 0 } });

    const read = await getAccount(shopper.token);
    expect(read.status).toBe(200);
    expect(read.body).toEqual({ account: { userId: shopper.userId, balance: 0 } });

    const again = await createAccount(shopper.token);
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: "CONFLICT", message: expect.any(String) });
  });

  it("getAccount without an account is 404 with a JSON error", async () => {
    const shopper = await api.shopper();
    const response = await getAccount(shopper.token);
    expect(response.status).toBe(404);
    expect(response.body.error.code).toBe("NOT_FOUND");
  });

  it("anonymous callers get 401 on every account route", async () => {
    expect((await createAccount()).status).toBe(401);
    expect((await getAccount()).status).toBe(401);
    const anonymousTopUp = await api.request("/api/v1/accounts/me/top-up", {
      method: "POST",
      json: { amount: 100 },
    });
    expect(anonymousTopUp.status).toBe(401);
  });

  it("20 concurrent createAccount calls: exactly one 201, nineteen 409, one account", async () => {
    const shopper = await api.shopper("racer");
    const responses = await Promise.all(Array.from({ length: 20 }, () => createAccount(shopper.token)));
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses.filter((status) => status === 201)).toHaveLength(1);
    expect(statuses.filter((status) => status === 409)).toHaveLength(19);
    const [row] = await api.paymentsDb.$queryRaw<{ n: bigint }[]>`
      SELECT count(*) AS n FROM accounts WHERE user_id = ${shopper.userId}::uuid`;
    expect(Number(row!.n)).toBe(1);
  });

  it("the opening is announced once, as balance 0 (pages open on the user show the account); a refused one announces nothing", async () => {
    const shopper = await api.shopper("opener");
    const events = await balanceEventsOf(shopper.userId);
    const responses = await Promise.all(Array.from({ length: 5 }, () => createAccount(shopper.token)));
    expect(responses.map((response) => response.status).sort()).toEqual([201, 409, 409, 409, 409]);
    // Published after them on the same connection, so once it is in, any event of theirs is too.
    expect((await topUp(shopper.token, { amount: 3 })).status).toBe(200);
    await waitFor(() => events.some(({ balance }) => balance === 3) || undefined, {
      what: "the top-up's event",
    });
    expect(events).toEqual([
      { userId: shopper.userId, change: "OPENED", amount: 0, balance: 0 },
      { userId: shopper.userId, change: "TOP_UP", amount: 3, balance: 3 },
    ]);
  });
});

describe("payments.topUp (REST)", () => {
  it("adds to the balance (200, integer minor units) and writes one ledger entry per top-up", async () => {
    const shopper = await shopperWithAccount();
    const first = await topUp(shopper.token, { amount: 150_000 });
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ account: { userId: shopper.userId, balance: 150_000 } });
    expect(first.text).toContain('"balance":150000');

    const second = await topUp(shopper.token, { amount: 1 });
    expect(second.body.account.balance).toBe(150_001);
    expect(Number.isInteger(second.body.account.balance)).toBe(true);

    const ledger = await ledgerOf(shopper.userId);
    expect(ledger.map((entry) => [entry.kind, Number(entry.amount)])).toEqual([
      ["TOP_UP", 150_000],
      ["TOP_UP", 1],
    ]);
    expect((await getAccount(shopper.token)).body.account.balance).toBe(150_001);
  });

  it("the maximum amount is accepted, and balances beyond one amount add up exactly", async () => {
    const shopper = await shopperWithAccount();
    await topUp(shopper.token, { amount: 1_000_000_000 });
    const response = await topUp(shopper.token, { amount: 1_000_000_000 });
    expect(response.status).toBe(200);
    expect(response.body.account.balance).toBe(2_000_000_000);
  });

  it("a top-up past the largest balance is a 422 naming amount, and changes nothing (shopper and admin)", async () => {
    const shopper = await shopperWithAccount();
    const nearlyFull = Number.MAX_SAFE_INTEGER - 10;
    await api.paymentsDb.$executeRaw`
      UPDATE accounts SET balance = ${BigInt(nearlyFull)} WHERE user_id = ${shopper.userId}::uuid`;
    const ledgerBefore = await api.ledgerCount();
    for (const response of [
      await topUp(shopper.token, { amount: 11 }, randomUUID()),
      await adminTopUp(adminToken, shopper.userId, { amount: 1_000_000_000 }),
    ]) {
      expect(response.status).toBe(422);
      expect(response.body.error.message).toMatch(/past the largest an account may hold/);
      expect(response.body.error.fields).toEqual({
        amount: `would take the balance past ${Number.MAX_SAFE_INTEGER}`,
      });
    }
    expect((await getAccount(shopper.token)).body.account.balance).toBe(nearlyFull);
    expect(await api.ledgerCount()).toBe(ledgerBefore);
    expect((await topUp(shopper.token, { amount: 10 })).body.account.balance).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("without an account is 404 and writes nothing", async () => {
    const shopper = await api.shopper();
    const ledgerBefore = await api.ledgerCount();
    const response = await topUp(shopper.token, { amount: 100 }, randomUUID());
    expect(response.status).toBe(404);
    expect(response.body.error.code).toBe("NOT_FOUND");
    expect(await api.ledgerCount()).toBe(ledgerBefore);
    expect(await balanceOf(shopper.userId)).toBeNull();
  });

  it("Idempotency-Key: the same key and body twice → the first result, one ledger entry", async () => {
    const shopper = await shopperWithAccount(1_000);
    const key = randomUUID();
    const first = await topUp(shopper.token, { amount: 500 }, key);
    expect(first.status).toBe(200);
    expect(first.body.account.balance).toBe(1_500);

    const ledgerAfterFirst = await api.ledgerCount();
    const second = await topUp(shopper.token, { amount: 500 }, key);
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
    expect(await api.ledgerCount()).toBe(ledgerAfterFirst);
    expect(await ledgerOf(shopper.userId)).toHaveLength(2);
    expect(await balanceOf(shopper.userId)).toBe(1_500);
  });

  it("Idempotency-Key: the same key with another body → 422 naming the key, nothing written", async () => {
    const shopper = await shopperWithAccount();
    const key = randomUUID();
    expect((await topUp(shopper.token, { amount: 500 }, key)).status).toBe(200);
    const ledgerBefore = await api.ledgerCount();

    const reused = await topUp(shopper.token, { amount: 501 }, key);
    expect(reused.status).toBe(422);
    expect(reused.body.error).toMatchObject({
      code: "UNPROCESSABLE_CONTENT",
      fields: { "Idempotency-Key": "was already used with a different request" },
    });
    expect(reused.body.error.message).toMatch(/Idempotency-Key/);
    expect(await api.ledgerCount()).toBe(ledgerBefore);
    expect(await balanceOf(shopper.userId)).toBe(500);
  });

  it("Idempotency-Key sent on two lines is a 400 naming it, and nothing is written", async () => {
    const shopper = await shopperWithAccount();
    // fetch joins repeated values into one line; node:http sends one line per value, as a client may.
    const response = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${api.baseUrl}/api/v1/accounts/me/top-up`, { method: "POST" }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
      req.setHeader("authorization", `Bearer ${shopper.token}`);
      req.setHeader("content-type", "application/json");
      req.setHeader("idempotency-key", ["k1", "k2"]);
      req.end(JSON.stringify({ amount: 100 }));
    });
    expect(response.status).toBe(400);
    expect(JSON.parse(response.body).error.fields).toEqual({ "Idempotency-Key": "must be sent once" });
    expect(await ledgerOf(shopper.userId)).toHaveLength(0);
    expect(await balanceOf(shopper.userId)).toBe(0);
  });

  it("Idempotency-Key: 20 concurrent retries with one key → one top-up, all see the same result", async () => {
    const shopper = await shopperWithAccount();
    const key = randomUUID();
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => topUp(shopper.token, { amount: 700 }, key)),
    );
    expect(responses.map((response) => response.status)).toEqual(Array(20).fill(200));
    expect(new Set(responses.map((response) => response.text)).size).toBe(1);
    expect(await ledgerOf(shopper.userId)).toHaveLength(1);
    expect(await balanceOf(shopper.userId)).toBe(700);
  });

  it("a replayed top-up announces nothing: one balance event per top-up that happened", async () => {
    const shopper = await shopperWithAccount();
    const events = await balanceEventsOf(shopper.userId);
    const key = randomUUID();
    expect((await topUp(shopper.token, { amount: 500 }, key)).status).toBe(200);
    expect((await topUp(shopper.token, { amount: 7 })).status).toBe(200);
    const replays = await Promise.all(
      Array.from({ length: 3 }, () => topUp(shopper.token, { amount: 500 }, key)),
    );
    expect(replays.map(({ body }) => body.account.balance)).toEqual([500, 500, 500]);
    // Published after them on the same connection, so once it is in, any event of theirs is too.
    expect((await topUp(shopper.token, { amount: 1 })).status).toBe(200);
    await waitFor(() => events.some(({ balance }) => balance === 508) || undefined, {
      what: "the last top-up's event",
    });
    expect(events).toEqual([
      { userId: shopper.userId, change: "TOP_UP", amount: 500, balance: 500 },
      { userId: shopper.userId, change: "TOP_UP", amount: 7, balance: 507 },
      { userId: shopper.userId, change: "TOP_UP", amount: 1, balance: 508 },
    ]);
  });

  it("keys are per user: another shopper's identical key is independent", async () => {
    const a = await shopperWithAccount();
    const b = await shopperWithAccount();
    const key = `shared-${randomUUID()}`;
    expect((await topUp(a.token, { amount: 10 }, key)).body.account).toEqual({
      userId: a.userId,
      balance: 10,
    });
    expect((await topUp(b.token, { amount: 20 }, key)).body.account).toEqual({
      userId: b.userId,
      balance: 20,
    });
  });

  it.each([
    { name: "empty", key: "" },
    { name: "256 characters", key: "k".repeat(256) },
    { name: "not ASCII", key: "clé" },
    { name: "with a tab", key: "a\tb" },
  ])("a malformed Idempotency-Key header ($name) is a 400 naming it, nothing written", async ({ key }) => {
    const shopper = await shopperWithAccount();
    const ledgerBefore = await api.ledgerCount();
    const response = await topUp(shopper.token, { amount: 100 }, key);
    expect(response.status).toBe(400);
    expect(response.body.error.fields).toEqual({
      "Idempotency-Key": "must be 1-255 printable ASCII characters, without a space at either end",
    });
    expect(response.body.error.message).toContain("Idempotency-Key");
    expect(await api.ledgerCount()).toBe(ledgerBefore);
  });
});

describe("payments over tRPC (/api/trpc)", () => {
  it("createAccount, getAccount and topUp with idempotencyKey in the input", async () => {
    const shopper = await api.shopper("trpc");
    const created = await api.trpc.mutation("payments.createAccount", undefined, shopper.token);
    expect(created.status).toBe(200);
    expect(created.body.result.data).toEqual({ account: { userId: shopper.userId, balance: 0 } });

    const again = await api.trpc.mutation("payments.createAccount", undefined, shopper.token);
    expect(again.status).toBe(409);
    expect(again.body.error.data.code).toBe("CONFLICT");

    const key = randomUUID();
    const first = await api.trpc.mutation(
      "payments.topUp",
      { amount: 2_500, idempotencyKey: key },
      shopper.token,
    );
    expect(first.status).toBe(200);
    expect(first.body.result.data.account.balance).toBe(2_500);
    const replay = await api.trpc.mutation(
      "payments.topUp",
      { amount: 2_500, idempotencyKey: key },
      shopper.token,
    );
    expect(replay.body.result.data).toEqual(first.body.result.data);
    // The header and the input field name the same key space.
    const viaHeader = await topUp(shopper.token, { amount: 2_500 }, key);
    expect(viaHeader.body).toEqual(first.body.result.data);
    expect(await ledgerOf(shopper.userId)).toHaveLength(1);

    const reused = await api.trpc.mutation(
      "payments.topUp",
      { amount: 9, idempotencyKey: key },
      shopper.token,
    );
    expect(reused.status).toBe(422);
    expect(reused.body.error.data).toMatchObject({
      code: "UNPROCESSABLE_CONTENT",
      httpStatus: 422,
      fields: { idempotencyKey: "was already used with a different request" },
    });

    const read = await api.trpc.query("payments.getAccount", undefined, shopper.token);
    expect(read.body.result.data).toEqual({ account: { userId: shopper.userId, balance: 2_500 } });
  });

  it("a header and an input key that disagree are a 400 naming idempotencyKey", async () => {
    const shopper = await shopperWithAccount();
    const response = await api.trpc.mutation(
      "payments.topUp",
      { amount: 5, idempotencyKey: "one" },
      shopper.token,
      { "idempotency-key": "two" },
    );
    expect(response.status).toBe(400);
    expect(response.body.error.data.fields).toEqual({
      idempotencyKey: "differs from the Idempotency-Key header",
    });
    expect(await ledgerOf(shopper.userId)).toHaveLength(0);
  });
});

describe("admin.topUp", () => {
  it("a shopper gets 403 and nothing is written", async () => {
    const victim = await shopperWithAccount(100);
    const shopper = await api.shopper();
    const ledgerBefore = await api.ledgerCount();
    const response = await adminTopUp(shopper.token, victim.userId, { amount: 1_000 });
    expect(response.status).toBe(403);
    expect(response.body.error.code).toBe("FORBIDDEN");
    const trpc = await api.trpc.mutation(
      "admin.topUp",
      { userId: victim.userId, amount: 1_000 },
      shopper.token,
    );
    expect(trpc.status).toBe(403);
    expect(await api.ledgerCount()).toBe(ledgerBefore);
    expect(await balanceOf(victim.userId)).toBe(100);
  });

  it("anonymous is 401", async () => {
    const response = await api.request(`/api/v1/admin/users/${randomUUID()}/top-up`, {
      method: "POST",
      json: { amount: 1 },
    });
    expect(response.status).toBe(401);
  });

  it("a user without an account (or no such user) is 404, nothing written", async () => {
    const shopper = await api.shopper();
    const ledgerBefore = await api.ledgerCount();
    for (const userId of [shopper.userId, randomUUID()]) {
      const response = await adminTopUp(adminToken, userId, { amount: 1_000 });
      expect(response.status).toBe(404);
      expect(response.body.error.code).toBe("NOT_FOUND");
    }
    expect(await api.ledgerCount()).toBe(ledgerBefore);
  });

  it("an admin tops up a shopper's account (200 with the new balance), which findUsers then shows", async () => {
    const email = uniqueEmail("funded");
    const registered = await api.rest.register(email, strongPassword());
    const shopper = { token: registered.body.accessToken, userId: registered.body.user.id };
    const before = await api.request(`/api/v1/admin/users?email=${email}`, {
      headers: api.bearer(adminToken),
    });
    expect(before.body.users).toEqual([expect.objectContaining({ email, account: null })]);

    expect((await createAccount(shopper.token)).status).toBe(201);
    await topUp(shopper.token, { amount: 300 });
    const response = await adminTopUp(adminToken, shopper.userId, { amount: 12_345 });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ account: { userId: shopper.userId, balance: 12_645 } });
    expect((await getAccount(shopper.token)).body.account.balance).toBe(12_645);

    const found = await api.request(`/api/v1/admin/users?email=${email}`, {
      headers: api.bearer(adminToken),
    });
    expect(found.status).toBe(200);
    expect(found.body.users).toEqual([
      { id: shopper.userId, email, role: "SHOPPER", account: { userId: shopper.userId, balance: 12_645 } },
    ]);
  });

  it("honours Idempotency-Key (header and tRPC input): one ledger entry; another body → 422", async () => {
    const shopper = await shopperWithAccount();
    const key = randomUUID();
    const first = await adminTopUp(adminToken, shopper.userId, { amount: 400 }, key);
    const second = await adminTopUp(adminToken, shopper.userId, { amount: 400 }, key);
    expect(first.status).toBe(200);
    expect(second.body).toEqual(first.body);
    const viaTrpc = await api.trpc.mutation(
      "admin.topUp",
      { userId: shopper.userId, amount: 400, idempotencyKey: key },
      adminToken,
    );
    expect(viaTrpc.body.result.data).toEqual(first.body);
    expect(await ledgerOf(shopper.userId)).toHaveLength(1);

    const ledgerBefore = await api.ledgerCount();
    const reused = await adminTopUp(adminToken, shopper.userId, { amount: 401 }, key);
    expect(reused.status).toBe(422);
    expect(reused.body.error.fields).toEqual({
      "Idempotency-Key": "was already used with a different request",
    });
    // The same key for another user is another request too.
    const other = await shopperWithAccount();
    const otherUser = await adminTopUp(adminToken, other.userId, { amount: 400 }, key);
    expect(otherUser.status).toBe(422);
    expect(await api.ledgerCount()).toBe(ledgerBefore);
    expect(await balanceOf(shopper.userId)).toBe(400);
  });

  it("a userId in the body beside the path's is a 400 naming userId, and neither account changes", async () => {
    const [a, b] = [await shopperWithAccount(), await shopperWithAccount()];
    for (const userId of [b.userId, a.userId]) {
      const response = await adminTopUp(adminToken, a.userId, { userId, amount: 7 });
      expect(response.status).toBe(400);
      expect(response.body.error.fields).toEqual({
        userId: "is given by the path; leave it out of the body",
      });
    }
    expect([await balanceOf(a.userId), await balanceOf(b.userId)]).toEqual([0, 0]);
    expect(await ledgerOf(a.userId)).toEqual([]);
  });

  it("a userId that is not a UUID is a 400 naming userId", async () => {
    const response = await adminTopUp(adminToken, "not-a-uuid", { amount: 100 });
    expect(response.status).toBe(400);
    expect(Object.keys(response.body.error.fields)).toEqual(["userId"]);
  });
});

/** Bad amounts: each a 400 naming `amount`, with no ledger entry and no balance change. */
const badAmounts: Array<{ name: string; body: Record<string, unknown>; problem: RegExp }> = [
  { name: "0", body: { amount: 0 }, problem: /at least 1/ },
  { name: "-1", body: { amount: -1 }, problem: /at least 1/ },
  { name: "1.5", body: { amount: 1.5 }, problem: /integer/ },
  { name: '"10" (a string)', body: { amount: "10" }, problem: /must be an integer/ },
  { name: "10^12", body: { amount: 1e12 }, problem: /at most 1000000000/ },
  { name: "1000000001", body: { amount: 1_000_000_001 }, problem: /at most 1000000000/ },
  { name: "missing", body: {}, problem: /is required/ },
  { name: "null", body: { amount: null }, problem: /is required/ },
  { name: "a boolean", body: { amount: true }, problem: /must be an integer/ },
];

describe("bad input on every money procedure → 400 naming the field, nothing written", () => {
  let shopper: { token: string; userId: string };
  beforeAll(async () => {
    shopper = await shopperWithAccount(1_000);
  });

  const procedures = [
    {
      name: "REST POST /accounts/me/top-up",
      send: (body: Record<string, unknown>) => topUp(shopper.token, body, randomUUID()),
      fields: (response: Awaited<ReturnType<typeof topUp>>) => response.body.error.fields,
    },
    {
      name: "REST POST /admin/users/{userId}/top-up",
      send: (body: Record<string, unknown>) => adminTopUp(adminToken, shopper.userId, body, randomUUID()),
      fields: (response: Awaited<ReturnType<typeof topUp>>) => response.body.error.fields,
    },
    {
      name: "tRPC payments.topUp",
      send: (body: Record<string, unknown>) =>
        api.trpc.mutation("payments.topUp", { idempotencyKey: randomUUID(), ...body }, shopper.token),
      fields: (response: Awaited<ReturnType<typeof topUp>>) => response.body.error.data.fields,
    },
    {
      name: "tRPC admin.topUp",
      send: (body: Record<string, unknown>) =>
        api.trpc.mutation("admin.topUp", { ...body, userId: shopper.userId }, adminToken),
      fields: (response: Awaited<ReturnType<typeof topUp>>) => response.body.error.data.fields,
    },
  ];

  describe.each(procedures)("$name", ({ send, fields }) => {
    it.each(badAmounts)("amount $name", async ({ body, problem }) => {
      const ledgerBefore = await api.ledgerCount();
      const response = await send(body);
      expect(response.status).toBe(400);
      expect(Object.keys(fields(response))).toEqual(["amount"]);
      expect(fields(response).amount).toMatch(problem);
      expect(response.text).toContain("amount");
      expect(await api.ledgerCount()).toBe(ledgerBefore);
      expect(await balanceOf(shopper.userId)).toBe(1_000);
    });

    it.each([
      { name: "an empty key", key: "" },
      { name: "a 256-character key", key: "k".repeat(256) },
      { name: "a key with a control character", key: "abc\u0001" },
      { name: "a non-ASCII key", key: "ключ" },
      // The header cannot carry it: HTTP strips it, and the same text would be two keys.
      { name: "a key ending in a space", key: "k1 " },
    ])("idempotencyKey: $name", async ({ key }) => {
      const ledgerBefore = await api.ledgerCount();
      const response = await send({ amount: 5, idempotencyKey: key });
      expect(response.status).toBe(400);
      expect(fields(response)).toEqual({
        idempotencyKey: "must be 1-255 printable ASCII characters, without a space at either end",
      });
      expect(await api.ledgerCount()).toBe(ledgerBefore);
    });
  });

  it("malformed JSON and a non-object body are 400 without a write", async () => {
    const ledgerBefore = await api.ledgerCount();
    const broken = await api.request("/api/v1/accounts/me/top-up", {
      method: "POST",
      headers: api.bearer(shopper.token, { "content-type": "application/json" }),
      body: '{"amount": 5',
    });
    expect(broken.status).toBe(400);
    expect(broken.body.error.fields).toEqual({ body: "is not valid JSON" });
    const array = await topUp(shopper.token, [5]);
    expect(array.status).toBe(400);
    expect(await api.ledgerCount()).toBe(ledgerBefore);
  });
});
