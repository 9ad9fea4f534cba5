import { randomUUID } from "node:crypto";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bullPrefix, QUEUES } from "@gozon/messaging/queues";
import { verifyMessage } from "@gozon/messaging/signing";
import { newestFirst } from "@gozon/orders/testing";
import { startApi, type ApiHarness } from "./harness.ts";

let api: ApiHarness;
beforeAll(async () => {
  api = await startApi({ label: "api_orders" });
});
afterAll(async () => {
  await api?.close();
});

type Order = {
  id: string;
  userId: string;
  amount: number;
  description: string;
  status: string;
  cancelReason: string | null;
  createdAt: string;
  updatedAt: string;
};

const createOrder = (token: string, body: unknown, key?: string) =>
  api.request("/api/v1/orders", {
    method: "POST",
    headers: api.bearer(token, key === undefined ? {} : { "idempotency-key": key }),
    json: body,
  });
const listOrders = (token: string, query = "") =>
  api.request(`/api/v1/orders${query}`, { headers: api.bearer(token) });
const orderById = (token: string, id: string) =>
  api.request(`/api/v1/orders/${id}`, { headers: api.bearer(token) });

const ordersOf = async (userId: string) => {
  const [row] = await api.ordersDb.$queryRaw<{ n: bigint }[]>`
    SELECT count(*) AS n FROM orders WHERE user_id = ${userId}::uuid`;
  return Number(row!.n);
};
const outboxOf = (orderId: string) =>
  api.ordersDb.$queryRaw<{ id: string; type: string; payload: unknown; sentAt: Date | null }[]>`
    SELECT id::text, type, payload, sent_at AS "sentAt" FROM outbox WHERE payload #>> '{payload,orderId}' = ${orderId}`;

/** `count` orders for the shopper, one after another (so their creation times are ordered). */
/** Places `count` orders one after another; returns their ids newest first, as listings order them. */
async function placeOrders(token: string, count: number, prefix = "order") {
  const orders: Order[] = [];
  for (let n = 1; n <= count; n++) {
    const response = await createOrder(token, { amount: 100 * n, description: `${prefix} ${n}` });
    expect(response.status).toBe(201);
    orders.push(response.body.order);
  }
  return newestFirst(orders).map((order) => order.id);
}

describe("orders.create (REST)", () => {
  it("201 with the order in NEW: integer amount, trimmed description, and its PaymentRequested", async () => {
    const shopper = await api.shopper();
    const response = await createOrder(shopper.token, { amount: 25_000, description: "  Ёлка 🎄  " });
    expect(response.status).toBe(201);
    const order: Order = response.body.order;
    expect(order).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      userId: shopper.userId,
      amount: 25_000,
      description: "Ёлка 🎄",
      status: "NEW",
      cancelReason: null,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    expect(response.text).toContain('"amount":25000');
    expect(new Date(order.createdAt).toISOString()).toBe(order.createdAt);

    const [message] = await outboxOf(order.id);
    expect(message?.type).toBe("PaymentRequested");
    expect(message?.payload).toMatchObject({
      payload: { orderId: order.id, userId: shopper.userId, amount: 25_000 },
    });
    // Published by the API itself right after the commit (no relay runs here), and marked sent soon after.
    await expect
      .poll(async () => (await outboxOf(order.id))[0]?.sentAt, { timeout: 5_000 })
      .toBeInstanceOf(Date);
    const requests = new Queue(QUEUES.paymentRequests, {
      connection: api.deps.redis,
      prefix: bullPrefix(api.config),
    });
    try {
      // Signed under the system's key, as the payments worker requires.
      const data: unknown = (await requests.getJob(message!.id))?.data;
      expect(verifyMessage(api.deps.signingKey, data)).toEqual({ ok: true, message: message!.payload });
    } finally {
      await requests.close();
    }
  });

  it("accepts any Unicode up to 500 characters (code points, not UTF-16 units)", async () => {
    const shopper = await api.shopper();
    for (const description of ["я".repeat(500), "🎁".repeat(500), "a", "混合 text ✓ עברית"]) {
      const response = await createOrder(shopper.token, { amount: 1, description });
      expect(response.status, `${description.slice(0, 10)}…`).toBe(201);
      expect(response.body.order.description).toBe(description);
    }
  });

  it("anonymous is 401 and nothing is written", async () => {
    const before = await api.countRows("orders.orders");
    const response = await api.request("/api/v1/orders", {
      method: "POST",
      json: { amount: 1, description: "x" },
    });
    expect(response.status).toBe(401);
    expect(await api.countRows("orders.orders")).toBe(before);
  });

  it("logs the NEW change with the order, and the list gives the feed position to subscribe from", async () => {
    const shopper = await api.shopper();
    const response = await createOrder(shopper.token, { amount: 4_200, description: "live" });
    const order: Order = response.body.order;
    const changes = await api.ordersDb.$queryRaw<{ status: string; user_id: string }[]>`
      SELECT status, user_id::text FROM order_changes WHERE order_id = ${order.id}::uuid`;
    expect(changes).toEqual([{ status: "NEW", user_id: shopper.userId }]);

    await api.ordersDb.$executeRaw`UPDATE order_changes SET position = 41 WHERE order_id = ${order.id}::uuid`;
    const list = await api.request("/api/v1/orders", { headers: api.bearer(shopper.token) });
    expect(list.status).toBe(200);
    expect(list.body.position).toBe(41);
  });
});

describe("orders.create: Idempotency-Key", () => {
  it("20 concurrent requests with one key → one order, one outbox row, every response the same order", async () => {
    const shopper = await api.shopper();
    const key = randomUUID();
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        createOrder(shopper.token, { amount: 700, description: "double click" }, key),
      ),
    );
    expect(responses.map((response) => response.status)).toEqual(Array(20).fill(201));
    const ids = new Set(responses.map((response) => response.body.order.id));
    expect(ids.size).toBe(1);
    expect(await ordersOf(shopper.userId)).toBe(1);
    expect(await outboxOf([...ids][0]!)).toHaveLength(1);
  });

  it("the same key with another body → 422 naming the key, no second order", async () => {
    const shopper = await api.shopper();
    const key = randomUUID();
    expect((await createOrder(shopper.token, { amount: 100, description: "first" }, key)).status).toBe(201);
    const outboxBefore = await api.countRows("orders.outbox");
    for (const body of [
      { amount: 101, description: "first" },
      { amount: 100, description: "second" },
    ]) {
      const response = await createOrder(shopper.token, body, key);
      expect(response.status).toBe(422);
      expect(response.body.error).toMatchObject({
        code: "UNPROCESSABLE_CONTENT",
        fields: { "Idempotency-Key": "was already used with a different request" },
      });
    }
    expect(await ordersOf(shopper.userId)).toBe(1);
    expect(await api.countRows("orders.outbox")).toBe(outboxBefore);
  });

  it("a description that trims to the same text is the same request", async () => {
    const shopper = await api.shopper();
    const key = randomUUID();
    const first = await createOrder(shopper.token, { amount: 5, description: "gift" }, key);
    const again = await createOrder(shopper.token, { amount: 5, description: " gift " }, key);
    expect(again.status).toBe(201);
    expect(again.body.order.id).toBe(first.body.order.id);
  });

  it("keys are per user", async () => {
    const a = await api.shopper();
    const b = await api.shopper();
    const key = `shared-${randomUUID()}`;
    const first = await createOrder(a.token, { amount: 5, description: "a" }, key);
    const second = await createOrder(b.token, { amount: 6, description: "b" }, key);
    expect(second.status).toBe(201);
    expect(second.body.order.id).not.toBe(first.body.order.id);
    expect(second.body.order.userId).toBe(b.userId);
  });
});

describe("orders.list and orders.byId (REST)", () => {
  it("lists the caller's own orders, newest first, in pages joined by nextCursor", async () => {
    const shopper = await api.shopper();
    const other = await api.shopper();
    const mine = await placeOrders(shopper.token, 5, "mine");
    await placeOrders(other.token, 3, "theirs");

    const first = await listOrders(shopper.token, "?limit=2");
    expect(first.status).toBe(200);
    expect(first.body.orders.map((order: Order) => order.id)).toEqual([mine[0], mine[1]]);
    expect(first.body.nextCursor).toBe(mine[1]);

    const seen: Order[] = [...first.body.orders];
    let cursor: string | null = first.body.nextCursor;
    while (cursor) {
      const page = await listOrders(shopper.token, `?limit=2&cursor=${cursor}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.orders);
      cursor = page.body.nextCursor;
    }
    expect(seen.map((order) => order.id)).toEqual(mine);
    expect(seen.every((order) => order.userId === shopper.userId)).toBe(true);
    expect(seen.every((order) => Number.isInteger(order.amount))).toBe(true);

    const all = await listOrders(shopper.token);
    expect(all.body.orders).toHaveLength(5);
    expect(all.body.nextCursor).toBeNull();
  });

  it("returns 20 by default, at most 100", async () => {
    const shopper = await api.shopper();
    await placeOrders(shopper.token, 22);
    const page = await listOrders(shopper.token);
    expect(page.body.orders).toHaveLength(20);
    expect(page.body.nextCursor).toBe(page.body.orders[19].id);
    const big = await listOrders(shopper.token, "?limit=100");
    expect(big.body.orders).toHaveLength(22);
    expect(big.body.nextCursor).toBeNull();
  });

  it("byId: the caller's own order → 200; another user's or an unknown id → 404; not a UUID → 400", async () => {
    const shopper = await api.shopper();
    const other = await api.shopper();
    const [mine] = await placeOrders(shopper.token, 1);
    const [theirs] = await placeOrders(other.token, 1);

    const own = await orderById(shopper.token, mine!);
    expect(own.status).toBe(200);
    expect(own.body.order).toMatchObject({ id: mine, userId: shopper.userId, status: "NEW" });

    for (const id of [theirs!, randomUUID()]) {
      const response = await orderById(shopper.token, id);
      expect(response.status).toBe(404);
      expect(response.body.error).toMatchObject({ code: "NOT_FOUND", message: "No such order" });
      expect(response.text).not.toContain(other.userId);
    }

    const bad = await orderById(shopper.token, "not-a-uuid");
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.body.error.fields)).toEqual(["id"]);
    expect(bad.body.error.message).toContain("id");
  });

  it("byId: an id in the query beside the path's is a 400 naming id, whichever order it names", async () => {
    const shopper = await api.shopper();
    const [first, second] = await placeOrders(shopper.token, 2);
    // Whatever the path's case: the route matches in any case.
    for (const [path, id] of [
      [`/api/v1/orders/${first}`, second!],
      [`/api/v1/orders/${first}`, first!],
      [`/api/v1/ORDERS/${first}`, second!],
    ]) {
      const response = await api.request(`${path}?id=${id}`, { headers: api.bearer(shopper.token) });
      expect(response.status).toBe(400);
      expect(response.body.error.fields).toEqual({ id: "is given by the path; leave it out of the query" });
    }
    // An id in capitals is the same order.
    const upper = await orderById(shopper.token, first!.toUpperCase());
    expect(upper.status).toBe(200);
    expect(upper.body.order.id).toBe(first);
  });

  it("bad list parameters are a 400 naming them", async () => {
    const shopper = await api.shopper();
    for (const [query, field, problem] of [
      ["?limit=0", "limit", /at least 1/],
      ["?limit=101", "limit", /at most 100/],
      ["?limit=1.5", "limit", /integer/],
      ["?limit=lots", "limit", /integer/],
      ["?cursor=abc", "cursor", /nextCursor/],
    ] as const) {
      const response = await listOrders(shopper.token, query);
      expect(response.status, query).toBe(400);
      expect(Object.keys(response.body.error.fields)).toEqual([field]);
      expect(response.body.error.fields[field]).toMatch(problem);
    }
  });

  it("another user's cursor, or an unknown one, is a 400 naming it (not an empty last page), revealing nothing", async () => {
    const shopper = await api.shopper();
    const other = await api.shopper();
    const [theirs] = await placeOrders(other.token, 1, "theirs");
    const [newer, older] = await placeOrders(shopper.token, 2);

    for (const cursor of [theirs!, randomUUID()]) {
      const rest = await listOrders(shopper.token, `?cursor=${cursor}`);
      expect(rest.status, cursor).toBe(400);
      expect(rest.body.error.fields).toEqual({ cursor: "must be the nextCursor of a previous page" });
      expect(rest.text).not.toContain(other.userId);
      const trpc = await api.trpc.query("orders.list", { cursor }, shopper.token);
      expect(trpc.status, cursor).toBe(400);
      expect(Object.keys(trpc.body.error.data.fields)).toEqual(["cursor"]);
    }

    // The caller's own orders page on; after the oldest there is nothing left (200, not a 400).
    const first = await listOrders(shopper.token, "?limit=1");
    expect(first.body).toMatchObject({ orders: [{ id: newer }], nextCursor: newer });
    const second = await listOrders(shopper.token, `?limit=1&cursor=${newer}`);
    expect(second.body).toMatchObject({ orders: [{ id: older }], nextCursor: null });
    const end = await listOrders(shopper.token, `?cursor=${older}`);
    expect(end.status).toBe(200);
    expect(end.body).toMatchObject({ orders: [], nextCursor: null });
  });

  it("anonymous is 401", async () => {
    expect((await api.request("/api/v1/orders")).status).toBe(401);
    expect((await api.request(`/api/v1/orders/${randomUUID()}`)).status).toBe(401);
  });
});

describe("orders over tRPC (/api/trpc)", () => {
  it("create (idempotencyKey in the input), list and byId", async () => {
    const shopper = await api.shopper();
    const other = await api.shopper();
    const key = randomUUID();
    const input = { amount: 1_234, description: "via tRPC", idempotencyKey: key };
    const created = await api.trpc.mutation("orders.create", input, shopper.token);
    expect(created.status).toBe(200);
    const order: Order = created.body.result.data.order;
    expect(order).toMatchObject({ userId: shopper.userId, amount: 1_234, status: "NEW" });

    const replay = await api.trpc.mutation("orders.create", input, shopper.token);
    expect(replay.body.result.data.order.id).toBe(order.id);
    const viaHeader = await createOrder(shopper.token, { amount: 1_234, description: "via tRPC" }, key);
    expect(viaHeader.body.order.id).toBe(order.id);
    expect(await ordersOf(shopper.userId)).toBe(1);

    const reused = await api.trpc.mutation("orders.create", { ...input, amount: 1 }, shopper.token);
    expect(reused.status).toBe(422);
    expect(reused.body.error.data.fields).toEqual({
      idempotencyKey: "was already used with a different request",
    });

    const list = await api.trpc.query("orders.list", { limit: 5 }, shopper.token);
    expect(list.body.result.data).toEqual({
      orders: [order],
      nextCursor: null,
      position: expect.any(Number),
    });
    const listDefault = await api.trpc.query("orders.list", undefined, shopper.token);
    expect(listDefault.body.result.data.orders).toEqual([order]);

    const byId = await api.trpc.query("orders.byId", { id: order.id }, shopper.token);
    expect(byId.body.result.data).toEqual({
      order,
      history: [{ status: "NEW", reason: null, at: order.createdAt }],
    });
    const foreign = await api.trpc.query("orders.byId", { id: order.id }, other.token);
    expect(foreign.status).toBe(404);
    const invalid = await api.trpc.query("orders.byId", { id: "nope" }, shopper.token);
    expect(invalid.status).toBe(400);
    expect(Object.keys(invalid.body.error.data.fields)).toEqual(["id"]);
  });
});

describe("page limits read the same whichever transport was served first", () => {
  // trpc-to-openapi switched on zod's coercion in the schemas of each REST request it served, so tRPC
  // took `true` as 1 and `[50]` as 50 after the first REST call, and refused them before it.
  it.each([
    ["orders.list", "/api/v1/orders"],
    ["payments.ledger", "/api/v1/accounts/me/ledger"],
  ])("%s: after a REST call, a tRPC limit that is not a number is a 400 naming it", async (path, rest) => {
    const shopper = await api.shopper();
    expect((await api.request(`${rest}?limit=5`, { headers: api.bearer(shopper.token) })).status).toBe(200);
    for (const limit of [true, [50], "", "5.0", " 5", "1e1"]) {
      const response = await api.trpc.query(path, { limit }, shopper.token);
      expect(response.status, JSON.stringify(limit)).toBe(400);
      expect(Object.keys(response.body.error.data.fields)).toEqual(["limit"]);
    }
    // Decimal digits are what a REST query string carries; tRPC reads such text the same way.
    expect((await api.trpc.query(path, { limit: "5" }, shopper.token)).status).toBe(200);
    expect((await api.trpc.query(path, { limit: 5 }, shopper.token)).status).toBe(200);
  });
});

/** Each a 400 naming the field, with no order and no outbox row written. */
const badBodies: Array<{ name: string; body: Record<string, unknown>; field: string; problem: RegExp }> = [
  { name: "amount 0", body: { amount: 0, description: "x" }, field: "amount", problem: /at least 1/ },
  { name: "amount -1", body: { amount: -1, description: "x" }, field: "amount", problem: /at least 1/ },
  { name: "amount 1.5", body: { amount: 1.5, description: "x" }, field: "amount", problem: /integer/ },
  { name: 'amount "10"', body: { amount: "10", description: "x" }, field: "amount", problem: /integer/ },
  { name: "amount 10^12", body: { amount: 1e12, description: "x" }, field: "amount", problem: /at most/ },
  { name: "amount missing", body: { description: "x" }, field: "amount", problem: /is required/ },
  { name: "amount null", body: { amount: null, description: "x" }, field: "amount", problem: /is required/ },
  { name: "description missing", body: { amount: 1 }, field: "description", problem: /is required/ },
  {
    name: "description a number",
    body: { amount: 1, description: 42 },
    field: "description",
    problem: /string/,
  },
  { name: "description empty", body: { amount: 1, description: "" }, field: "description", problem: /blank/ },
  {
    name: "description blank",
    body: { amount: 1, description: " \n\t " },
    field: "description",
    problem: /blank/,
  },
  {
    name: "description with NUL",
    body: { amount: 1, description: "a\u0000b" },
    field: "description",
    problem: /NUL/,
  },
  {
    name: "description with a lone high surrogate",
    body: { amount: 1, description: "a\uD800b" },
    field: "description",
    problem: /surrogate/,
  },
  {
    name: "description with a lone low surrogate",
    body: { amount: 1, description: "\uDC00" },
    field: "description",
    problem: /surrogate/,
  },
  {
    name: "description of 501 characters",
    body: { amount: 1, description: "я".repeat(501) },
    field: "description",
    problem: /at most 500/,
  },
  {
    name: "description of 501 emoji",
    body: { amount: 1, description: "🎄".repeat(501) },
    field: "description",
    problem: /at most 500/,
  },
  {
    name: "idempotencyKey of 256 characters",
    body: { amount: 1, description: "x", idempotencyKey: "k".repeat(256) },
    field: "idempotencyKey",
    problem: /printable ASCII/,
  },
  {
    name: "idempotencyKey empty",
    body: { amount: 1, description: "x", idempotencyKey: "" },
    field: "idempotencyKey",
    problem: /printable ASCII/,
  },
  // A header cannot carry it (HTTP strips it), so in the input it would make another key of the same text.
  {
    name: "idempotencyKey with a space at its end",
    body: { amount: 1, description: "x", idempotencyKey: "k1 " },
    field: "idempotencyKey",
    problem: /without a space at either end/,
  },
  {
    name: "idempotencyKey with a space at its start",
    body: { amount: 1, description: "x", idempotencyKey: " k1" },
    field: "idempotencyKey",
    problem: /without a space at either end/,
  },
];

describe("orders.create: bad input → 400 naming the field, nothing written", () => {
  let shopper: { token: string; userId: string };
  beforeAll(async () => {
    shopper = await api.shopper();
  });

  describe.each([
    {
      transport: "REST",
      send: (body: unknown) => createOrder(shopper.token, body),
      fieldsOf: (body: { error: { fields: Record<string, string> } }) => body.error.fields,
    },
    {
      transport: "tRPC",
      send: (body: unknown) => api.trpc.mutation("orders.create", body, shopper.token),
      fieldsOf: (body: { error: { data: { fields: Record<string, string> } } }) => body.error.data.fields,
    },
  ])("$transport", ({ send, fieldsOf }) => {
    it.each(badBodies)("$name", async ({ body, field, problem }) => {
      const outboxBefore = await api.countRows("orders.outbox");
      const response = await send(body);
      expect(response.status).toBe(400);
      const fields = fieldsOf(response.body);
      expect(Object.keys(fields)).toEqual([field]);
      expect(fields[field]).toMatch(problem);
      expect(response.text).toContain(field);
      expect(await ordersOf(shopper.userId)).toBe(0);
      expect(await api.countRows("orders.outbox")).toBe(outboxBefore);
    });
  });

  it("REST: a malformed Idempotency-Key header is a 400 naming it", async () => {
    const response = await createOrder(shopper.token, { amount: 1, description: "x" }, "k".repeat(256));
    expect(response.status).toBe(400);
    expect(response.body.error.fields).toEqual({
      "Idempotency-Key": "must be 1-255 printable ASCII characters, without a space at either end",
    });
    expect(await ordersOf(shopper.userId)).toBe(0);
  });
});
