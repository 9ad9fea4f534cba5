// History views over REST and tRPC: the shopper's statement and order history, and the admin's lists of
// orders and payments and page of one user. Payments are decided and orders settled through the real
// service functions, as the workers would.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "@gozon/core/logger";
import { buildMessage } from "@gozon/messaging/contracts";
import { settleOrder } from "@gozon/orders/settle-order";
import { receivePaymentRequest } from "@gozon/payments/process-payment";
import { bootstrapAdmin } from "../src/identity/bootstrap-admin.ts";
import { startApi, strongPassword, uniqueEmail, type ApiHarness } from "./harness.ts";

const ADMIN_EMAIL = uniqueEmail("root");
const ADMIN_PASSWORD = strongPassword();
const silent = createLogger("history-test", "silent");

let api: ApiHarness;
let admin: string;
beforeAll(async () => {
  api = await startApi({ label: "api_history", env: { ADMIN_EMAIL, ADMIN_PASSWORD } });
  await bootstrapAdmin(api.deps);
  admin = (await api.rest.login(ADMIN_EMAIL, ADMIN_PASSWORD)).body.accessToken;
});
afterAll(async () => {
  await api?.close();
});

type Shopper = { token: string; userId: string; email: string };
type Order = {
  id: string;
  userId: string;
  amount: number;
  status: string;
  createdAt: string;
  updatedAt: string;
};
type Entry = { id: string; kind: string; amount: number; balanceAfter: number; orderId: string | null };
type Payment = {
  orderId: string;
  userId: string;
  amount: number;
  outcome: string;
  reason: string | null;
  decidedAt: string;
};

const get = (path: string, token?: string) => api.request(path, { headers: api.bearer(token) });

async function shopper(tag = "shopper", { account = true } = {}): Promise<Shopper> {
  const email = uniqueEmail(tag);
  const response = await api.rest.register(email, strongPassword());
  const token = response.body.accessToken as string;
  if (account)
    expect(
      (await api.request("/api/v1/accounts", { method: "POST", headers: api.bearer(token) })).status,
    ).toBe(201);
  return { token, userId: response.body.user.id, email };
}

const topUp = async (who: Shopper, amount: number) => {
  const response = await api.request("/api/v1/accounts/me/top-up", {
    method: "POST",
    headers: api.bearer(who.token),
    json: { amount },
  });
  expect(response.status).toBe(200);
};

async function placeOrder(who: Shopper, amount: number): Promise<Order> {
  const response = await api.request("/api/v1/orders", {
    method: "POST",
    headers: api.bearer(who.token),
    json: { amount, description: "history test" },
  });
  expect(response.status).toBe(201);
  return response.body.order;
}

/** What the payments and orders workers do with the order's payment request. */
async function pay(order: Order) {
  const request = buildMessage("PaymentRequested", {
    orderId: order.id,
    userId: order.userId,
    amount: order.amount,
  });
  const { outcome } = await receivePaymentRequest(api.paymentsDb, request, silent);
  if (outcome.status !== "decided") throw new Error(`not decided: ${outcome.status}`);
  await settleOrder(api.ordersDb, outcome.result);
  return outcome.result.type;
}

/** Follows nextCursor from the first page; `between` runs after each page. */
async function allPages<T>(
  path: string,
  key: string,
  token: string,
  between?: () => Promise<unknown>,
): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let cursor: string | null = null;
  for (let pages = 1; pages < 1_000; pages++) {
    const separator = path.includes("?") ? "&" : "?";
    const response = await get(
      cursor ? `${path}${separator}cursor=${encodeURIComponent(cursor)}` : path,
      token,
    );
    expect(response.status, response.text).toBe(200);
    items.push(...response.body[key]);
    cursor = response.body.nextCursor;
    if (cursor === null) return { items, pages };
    expect(typeof cursor).toBe("string");
    await between?.();
  }
  throw new Error("paging did not end");
}

/** Ids sorted as the lists sort: newest first by time, then by id. */
const newestFirst = <T extends { id: string }>(items: T[], at: (item: T) => string) =>
  [...items].sort((a, b) => at(b).localeCompare(at(a)) || b.id.localeCompare(a.id)).map((item) => item.id);

/** 400, and the unknown key named in the error (strict inputs refuse fields they do not know). */
const unknownField = (
  response: { status: number; body: { error: { fields: Record<string, string> } } },
  key: string,
) => {
  expect(response.status).toBe(400);
  expect(JSON.stringify(response.body.error.fields)).toContain(key);
};

const badRequest = (response: {
  status: number;
  body: { error: { code: string; fields: Record<string, string> } };
}) => {
  expect(response.status).toBe(400);
  expect(response.body.error.code).toBe("BAD_REQUEST");
  return Object.keys(response.body.error.fields);
};

describe("payments.ledger (GET /accounts/me/ledger)", () => {
  it("is the caller's statement newest first: signed amounts, exact balanceAfter, debits linked to their orders", async () => {
    const me = await shopper();
    await topUp(me, 100_000);
    const paid = await placeOrder(me, 25_000);
    expect(await pay(paid)).toBe("PaymentSucceeded");
    const refused = await placeOrder(me, 500_000);
    expect(await pay(refused)).toBe("PaymentFailed");
    await topUp(me, 1_050);

    const response = await get("/api/v1/accounts/me/ledger", me.token);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      entries: [
        {
          id: expect.any(String),
          kind: "TOP_UP",
          amount: 1_050,
          balanceAfter: 76_050,
          orderId: null,
          createdAt: expect.any(String),
        },
        {
          id: expect.any(String),
          kind: "ORDER_DEBIT",
          amount: -25_000,
          balanceAfter: 75_000,
          orderId: paid.id,
          createdAt: expect.any(String),
        },
        {
          id: expect.any(String),
          kind: "TOP_UP",
          amount: 100_000,
          balanceAfter: 100_000,
          orderId: null,
          createdAt: expect.any(String),
        },
      ],
      nextCursor: null,
    });
    expect(response.text).toContain('"amount":-25000');
    // The debit's order opens for its owner.
    expect((await get(`/api/v1/orders/${paid.id}`, me.token)).body.order.status).toBe("FINISHED");

    const trpc = await api.trpc.query("payments.ledger", { limit: 2 }, me.token);
    expect(trpc.status).toBe(200);
    expect(trpc.body.result.data.entries).toEqual(response.body.entries.slice(0, 2));
    const rest = await api.trpc.query(
      "payments.ledger",
      { limit: 2, cursor: trpc.body.result.data.nextCursor },
      me.token,
    );
    expect(rest.body.result.data).toEqual({ entries: response.body.entries.slice(2), nextCursor: null });
    expect(
      (await api.trpc.query("payments.ledger", undefined, me.token)).body.result.data.entries,
    ).toHaveLength(3);
  });

  it("pages with no entry skipped or repeated while top-ups and debits land between pages", async () => {
    const me = await shopper();
    for (let i = 1; i <= 12; i++) await topUp(me, i * 100);
    const existing = (await allPages<Entry>("/api/v1/accounts/me/ledger?limit=100", "entries", me.token))
      .items;

    const { items, pages } = await allPages<Entry>(
      "/api/v1/accounts/me/ledger?limit=5",
      "entries",
      me.token,
      async () => {
        await Promise.all([topUp(me, 7), placeOrder(me, 3).then(pay)]);
      },
    );
    expect(pages).toBeGreaterThan(2);
    const ids = items.map((entry) => entry.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(existing.every((entry) => ids.includes(entry.id))).toBe(true);
    // Whatever was read, each entry's balanceAfter follows from the one before it.
    const all = (
      await allPages<Entry>("/api/v1/accounts/me/ledger?limit=100", "entries", me.token)
    ).items.reverse();
    all.reduce((previous, entry) => {
      expect(entry.balanceAfter).toBe(previous + entry.amount);
      return entry.balanceAfter;
    }, 0);
  });

  it("never shows another user's entries; without an account it is empty; anonymous is 401", async () => {
    const me = await shopper();
    const other = await shopper();
    await topUp(other, 999);
    await pay(await placeOrder(other, 9));
    await topUp(me, 1);
    const mine = await get("/api/v1/accounts/me/ledger", me.token);
    expect(mine.body.entries.map((e: Entry) => e.amount)).toEqual([1]);

    // A cursor from another user's statement is not one of the caller's: a 400, not an end of the list.
    const theirs = await get("/api/v1/accounts/me/ledger?limit=1", other.token);
    const crossed = await get(`/api/v1/accounts/me/ledger?cursor=${theirs.body.nextCursor}`, me.token);
    expect(badRequest(crossed)).toEqual(["cursor"]);

    const none = await shopper("no-account", { account: false });
    expect((await get("/api/v1/accounts/me/ledger", none.token)).body).toEqual({
      entries: [],
      nextCursor: null,
    });
    expect((await get("/api/v1/accounts/me/ledger")).status).toBe(401);
  });

  it.each([
    ["limit=0", "limit"],
    ["limit=101", "limit"],
    ["limit=2.5", "limit"],
    ["limit=ten", "limit"],
    ["cursor=not-a-cursor", "cursor"],
    ["cursor=eyJ4IjoxfQ", "cursor"], // base64url JSON, but not a cursor
    [
      `cursor=${Buffer.from(JSON.stringify(["admin.orders", [new Date().toISOString(), randomUUID()]])).toString("base64url")}`,
      "cursor",
    ],
    [`cursor=${Buffer.from(JSON.stringify(["ledger", "0"])).toString("base64url")}`, "cursor"],
    // Past BIGINT (2^63 - 1): 19 digits, yet no id Postgres can compare with.
    [
      `cursor=${Buffer.from(JSON.stringify(["ledger", "9999999999999999999"])).toString("base64url")}`,
      "cursor",
    ],
    [`cursor=${Buffer.from(JSON.stringify(["ledger", String(2n ** 63n)])).toString("base64url")}`, "cursor"],
  ])("?%s → 400 naming %s", async (query, field) => {
    const me = await shopper();
    expect(badRequest(await get(`/api/v1/accounts/me/ledger?${query}`, me.token))).toEqual([field]);
  });

  it("an edited cursor that names no entry of the caller's is a 400, not an end of the statement", async () => {
    const me = await shopper();
    await topUp(me, 5);
    for (const id of [String(2n ** 63n - 1n), "999999"]) {
      const cursor = Buffer.from(JSON.stringify(["ledger", id])).toString("base64url");
      expect(badRequest(await get(`/api/v1/accounts/me/ledger?cursor=${cursor}`, me.token)), id).toEqual([
        "cursor",
      ]);
    }
  });

  it("an unknown query parameter is a 400 naming it", async () => {
    const me = await shopper();
    unknownField(await get("/api/v1/accounts/me/ledger?page=2", me.token), "page");
    unknownField(await get("/api/v1/admin/orders?sort=asc", admin), "sort");
    unknownField(await get("/api/v1/admin/payments?status=FAILED", admin), "status");
  });

  it("tRPC: a bad cursor or an unknown field is a 400 naming it", async () => {
    const me = await shopper();
    const cursor = await api.trpc.query("payments.ledger", { cursor: "garbage" }, me.token);
    expect(cursor.status).toBe(400);
    expect(Object.keys(cursor.body.error.data.fields)).toEqual(["cursor"]);
    const extra = await api.trpc.query("payments.ledger", { limit: 5, userId: randomUUID() }, me.token);
    expect(extra.status).toBe(400);
    expect(JSON.stringify(extra.body.error.data.fields)).toContain("userId");
  });
});

describe("orders.byId history and orders.list times", () => {
  it("history is oldest first: NEW, then FINISHED; or CANCELLED with the reason", async () => {
    const me = await shopper();
    await topUp(me, 1_000);
    const paid = await placeOrder(me, 600);
    const first = await get(`/api/v1/orders/${paid.id}`, me.token);
    expect(first.body).toEqual({
      order: paid,
      history: [{ status: "NEW", reason: null, at: paid.createdAt }],
    });

    await pay(paid);
    const finished = await get(`/api/v1/orders/${paid.id}`, me.token);
    expect(finished.body.order.status).toBe("FINISHED");
    expect(finished.body.history).toEqual([
      { status: "NEW", reason: null, at: paid.createdAt },
      { status: "FINISHED", reason: null, at: finished.body.order.updatedAt },
    ]);

    const refused = await placeOrder(me, 600);
    await pay(refused);
    const cancelled = await api.trpc.query("orders.byId", { id: refused.id }, me.token);
    expect(cancelled.body.result.data.history).toEqual([
      { status: "NEW", reason: null, at: refused.createdAt },
      { status: "CANCELLED", reason: "INSUFFICIENT_FUNDS", at: cancelled.body.result.data.order.updatedAt },
    ]);

    const list = await get("/api/v1/orders", me.token);
    for (const order of list.body.orders) {
      expect(new Date(order.createdAt).toISOString()).toBe(order.createdAt);
      expect(new Date(order.updatedAt).toISOString()).toBe(order.updatedAt);
    }
  });

  it("another user's order is a 404 and shows no history", async () => {
    const owner = await shopper();
    const order = await placeOrder(owner, 100);
    const other = await shopper();
    const response = await get(`/api/v1/orders/${order.id}`, other.token);
    expect(response.status).toBe(404);
    expect(response.text).not.toContain("history");
  });
});

describe("admin routes: who may call them", () => {
  it.each([["/api/v1/admin/orders"], ["/api/v1/admin/payments"], [`/api/v1/admin/users/${randomUUID()}`]])(
    "%s: anonymous 401, shopper 403",
    async (path) => {
      expect((await get(path)).status).toBe(401);
      const me = await shopper();
      const forbidden = await get(path, me.token);
      expect(forbidden.status).toBe(403);
      expect(forbidden.body.error.code).toBe("FORBIDDEN");
    },
  );

  it("tRPC: a shopper is 403 on the new admin procedures", async () => {
    const me = await shopper();
    expect((await api.trpc.query("admin.listOrders", undefined, me.token)).status).toBe(403);
    expect((await api.trpc.query("admin.listPayments", undefined, me.token)).status).toBe(403);
    expect((await api.trpc.query("admin.getUser", { userId: me.userId }, me.token)).status).toBe(403);
  });
});

describe("admin.listOrders (GET /admin/orders)", () => {
  it("lists every user's orders newest first with their emails, filtered by status, email, user and time", async () => {
    const alice = await shopper("alice");
    const bob = await shopper("bob", { account: false });
    await topUp(alice, 10_000);
    const a1 = await placeOrder(alice, 1_000);
    const b1 = await placeOrder(bob, 2_000);
    const a2 = await placeOrder(alice, 3_000);
    await pay(a1);
    await pay(b1); // NO_ACCOUNT

    const byAlice = await get(
      `/api/v1/admin/orders?email=${encodeURIComponent(alice.email.toUpperCase())}`,
      admin,
    );
    expect(byAlice.status).toBe(200);
    expect(byAlice.body.orders.map((o: Order) => o.id)).toEqual(newestFirst([a1, a2], (o) => o.createdAt));
    expect(byAlice.body.orders).toContainEqual({ ...a2, email: alice.email });
    expect(byAlice.body.orders).toContainEqual(
      expect.objectContaining({ id: a1.id, status: "FINISHED", email: alice.email }),
    );

    const cancelledOfBob = await get(`/api/v1/admin/orders?status=CANCELLED&userId=${bob.userId}`, admin);
    expect(cancelledOfBob.body.orders).toEqual([
      expect.objectContaining({
        id: b1.id,
        status: "CANCELLED",
        cancelReason: "NO_ACCOUNT",
        email: bob.email,
      }),
    ]);
    expect((await get(`/api/v1/admin/orders?status=FINISHED&email=${bob.email}`, admin)).body.orders).toEqual(
      [],
    );
    expect((await get(`/api/v1/admin/orders?email=${uniqueEmail("nobody")}`, admin)).body).toEqual({
      orders: [],
      nextCursor: null,
    });
    // Email and userId of the same user match, whatever the case the id is written in.
    const sameUser = await get(
      `/api/v1/admin/orders?email=${alice.email}&userId=${alice.userId.toUpperCase()}`,
      admin,
    );
    expect(sameUser.body.orders.map((o: Order) => o.id).sort()).toEqual([a1.id, a2.id].sort());
    // Email and userId of different users match nothing.
    expect(
      (await get(`/api/v1/admin/orders?email=${alice.email}&userId=${bob.userId}`, admin)).body.orders,
    ).toEqual([]);

    // from inclusive, to exclusive.
    const from = encodeURIComponent(a1.createdAt);
    const to = encodeURIComponent(a2.createdAt);
    const window = await get(`/api/v1/admin/orders?userId=${alice.userId}&from=${from}&to=${to}`, admin);
    expect(window.body.orders.map((o: Order) => o.id)).toEqual(a1.createdAt < a2.createdAt ? [a1.id] : []);
    const same = await get(`/api/v1/admin/orders?userId=${alice.userId}&from=${to}&to=${to}`, admin);
    expect(same.body.orders).toEqual([]);

    const trpc = await api.trpc.query("admin.listOrders", { status: "CANCELLED", userId: bob.userId }, admin);
    expect(trpc.body.result.data).toEqual(cancelledOfBob.body);
  });

  it("pages the whole list with no order skipped or repeated while orders are placed and settled", async () => {
    const buyers = await Promise.all([shopper("p1"), shopper("p2"), shopper("p3")]);
    for (const buyer of buyers) await topUp(buyer, 1_000_000);
    for (let i = 0; i < 24; i++) await placeOrder(buyers[i % 3]!, 100 + i);
    const existing = (await allPages<Order>("/api/v1/admin/orders?limit=100", "orders", admin)).items;

    const { items, pages } = await allPages<Order & { email: string }>(
      "/api/v1/admin/orders?limit=7",
      "orders",
      admin,
      async () => {
        const [x, y] = await Promise.all([placeOrder(buyers[0]!, 5), placeOrder(buyers[1]!, 6)]);
        await Promise.all([pay(x), pay(y)]);
      },
    );
    expect(pages).toBeGreaterThan(3);
    const ids = items.map((order) => order.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(existing.every((order) => ids.includes(order.id))).toBe(true);
    const keys = items.map((order) => `${order.createdAt} ${order.id}`);
    expect(keys).toEqual([...keys].sort().reverse());
    expect(items.every((order) => typeof order.email === "string")).toBe(true);
  });

  it.each([
    ["status=PAID", "status"],
    ["status=new", "status"],
    ["userId=42", "userId"],
    ["from=yesterday", "from"],
    ["to=2026-13-01T00:00:00Z", "to"],
    ["from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z", "from"],
    ["limit=0", "limit"],
    ["limit=101", "limit"],
    ["cursor=%%%", "cursor"],
    [`cursor=${Buffer.from(JSON.stringify(["ledger", "5"])).toString("base64url")}`, "cursor"],
    [
      `cursor=${Buffer.from(JSON.stringify(["admin.orders", ["not a time", randomUUID()]])).toString("base64url")}`,
      "cursor",
    ],
    ["email=", "email"],
    ["from=0000-01-01T00:00:00Z", "from"], // Postgres has no year 0
    ["to=0001-01-01T00:30:00%2B01:00", "to"],
    [
      `cursor=${Buffer.from(JSON.stringify(["admin.orders", ["0000-06-01T00:00:00Z", randomUUID()]])).toString("base64url")}`,
      "cursor",
    ],
  ])("?%s → 400 naming %s", async (query, field) => {
    expect(badRequest(await get(`/api/v1/admin/orders?${query}`, admin))).toEqual([field]);
  });
});

describe("admin.getUser (GET /admin/users/{userId})", () => {
  it("shows the user, account, latest 20 orders and latest 20 ledger entries, newest first", async () => {
    const who = await shopper("detail");
    await topUp(who, 1_000_000);
    const orders: Order[] = [];
    for (let i = 0; i < 22; i++) orders.push(await placeOrder(who, 100 + i));
    for (const order of orders.slice(0, 3)) await pay(order);

    const response = await get(`/api/v1/admin/users/${who.userId}`, admin);
    expect(response.status).toBe(200);
    const { user, account, orders: shown, ledger } = response.body;
    expect(user).toEqual({
      id: who.userId,
      email: who.email,
      role: "SHOPPER",
      createdAt: expect.any(String),
    });
    expect(account).toEqual({ userId: who.userId, balance: 1_000_000 - 100 - 101 - 102 });
    expect(shown).toHaveLength(20);
    expect(shown.map((o: Order) => o.id)).toEqual(
      (await get("/api/v1/orders?limit=20", who.token)).body.orders.map((o: Order) => o.id),
    );
    expect(ledger.map((e: Entry) => [e.kind, e.amount, e.balanceAfter])).toEqual([
      ["ORDER_DEBIT", -102, 999_697],
      ["ORDER_DEBIT", -101, 999_799],
      ["ORDER_DEBIT", -100, 999_900],
      ["TOP_UP", 1_000_000, 1_000_000],
    ]);
    expect((await get("/api/v1/accounts/me/ledger", who.token)).body.entries).toEqual(ledger);

    const trpc = await api.trpc.query("admin.getUser", { userId: who.userId }, admin);
    expect(trpc.body.result.data).toEqual(response.body);
  });

  it("a user without an account has account null and empty lists; an unknown user is 404; not a UUID is 400", async () => {
    const who = await shopper("bare", { account: false });
    const response = await get(`/api/v1/admin/users/${who.userId}`, admin);
    expect(response.body).toMatchObject({ account: null, orders: [], ledger: [] });

    const unknown = await get(`/api/v1/admin/users/${randomUUID()}`, admin);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("NOT_FOUND");
    expect(badRequest(await get("/api/v1/admin/users/not-a-uuid", admin))).toEqual(["userId"]);
    unknownField(await get(`/api/v1/admin/users/${who.userId}?extra=1`, admin), "extra");
  });
});

describe("admin.listPayments (GET /admin/payments)", () => {
  it("lists decisions newest first, by user and outcome, with amount and reason", async () => {
    const rich = await shopper("rich");
    const poor = await shopper("poor");
    await topUp(rich, 5_000);
    const ok = await placeOrder(rich, 4_000);
    const tooMuch = await placeOrder(rich, 4_000);
    const broke = await placeOrder(poor, 1);
    for (const order of [ok, tooMuch, broke]) await pay(order);

    const richOnes = await get(`/api/v1/admin/payments?userId=${rich.userId}`, admin);
    expect(richOnes.status).toBe(200);
    expect(richOnes.body.nextCursor).toBeNull();
    expect(richOnes.body.payments).toHaveLength(2);
    expect(richOnes.body.payments).toEqual(
      expect.arrayContaining([
        {
          orderId: tooMuch.id,
          userId: rich.userId,
          amount: 4_000,
          outcome: "FAILED",
          reason: "INSUFFICIENT_FUNDS",
          decidedAt: expect.any(String),
          email: rich.email,
        },
        {
          orderId: ok.id,
          userId: rich.userId,
          amount: 4_000,
          outcome: "SUCCEEDED",
          reason: null,
          decidedAt: expect.any(String),
          email: rich.email,
        },
      ]),
    );
    const asListed: (Payment & { id: string })[] = richOnes.body.payments.map((p: Payment) => ({
      ...p,
      id: p.orderId,
    }));
    expect(asListed.map((p) => p.id)).toEqual(newestFirst(asListed, (p) => p.decidedAt));

    const failed = (
      await allPages<Payment>("/api/v1/admin/payments?outcome=FAILED&limit=1", "payments", admin)
    ).items;
    expect(failed.every((p) => p.outcome === "FAILED")).toBe(true);
    expect(failed.map((p) => p.orderId)).toEqual(expect.arrayContaining([tooMuch.id, broke.id]));
    const succeededOfPoor = await get(
      `/api/v1/admin/payments?userId=${poor.userId}&outcome=SUCCEEDED`,
      admin,
    );
    expect(succeededOfPoor.body).toEqual({ payments: [], nextCursor: null });

    const trpc = await api.trpc.query("admin.listPayments", { userId: rich.userId }, admin);
    expect(trpc.body.result.data).toEqual(richOnes.body);
  });

  it("pages with no decision skipped or repeated while payments are decided", async () => {
    const buyer = await shopper("payer");
    await topUp(buyer, 1_000_000);
    for (let i = 0; i < 15; i++) await pay(await placeOrder(buyer, 10 + i));
    const existing = (await allPages<Payment>("/api/v1/admin/payments?limit=100", "payments", admin)).items;
    const { items, pages } = await allPages<Payment>(
      "/api/v1/admin/payments?limit=4",
      "payments",
      admin,
      () => Promise.all([placeOrder(buyer, 1).then(pay), placeOrder(buyer, 2).then(pay)]),
    );
    expect(pages).toBeGreaterThan(3);
    const ids = items.map((p) => p.orderId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(existing.every((p) => ids.includes(p.orderId))).toBe(true);
  });

  it.each([
    ["outcome=PENDING", "outcome"],
    ["userId=me", "userId"],
    ["limit=-1", "limit"],
    ["cursor=abc", "cursor"],
  ])("?%s → 400 naming %s", async (query, field) => {
    expect(badRequest(await get(`/api/v1/admin/payments?${query}`, admin))).toEqual([field]);
  });
});
