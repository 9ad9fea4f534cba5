import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSqlPool, type SqlPool } from "@gozon/db/sql-client";
import { waitFor } from "@gozon/core/testing";
import { IdempotencyKeyReused } from "@gozon/db/idempotency";
import { createTestDatabases, pagesRead, type TestDatabases } from "@gozon/db/testing";
import { buildMessage, type PaymentRequested } from "@gozon/messaging/contracts";
import { createOrder, createOrderPlacer } from "../src/create-order.ts";
import { getOrder, listOrders } from "../src/read-orders.ts";
import { reRequestStalePayments, type InFlightRequests } from "../src/reconcile.ts";
import { settleOrder, settleOrders } from "../src/settle-order.ts";
import { newestFirst } from "../test-support/testing.ts";

let dbs: TestDatabases;
let db: SqlPool;

beforeAll(async () => {
  dbs = await createTestDatabases("orders");
  db = createSqlPool(dbs.urls.orders);
});
afterAll(async () => {
  await db?.$disconnect();
  await dbs?.drop();
});

const outboxOf = (orderId: string) =>
  db.$queryRaw<{ id: string; queue: string; type: string; payload: unknown; sentAt: Date | null }[]>`
    SELECT id::text, queue, type, payload, sent_at AS "sentAt" FROM outbox
    WHERE payload #>> '{payload,orderId}' = ${orderId} ORDER BY created_at`;
const ordersOf = async (userId: string) => {
  const [row] = await db.$queryRaw<{ n: bigint }[]>`
    SELECT count(*) AS n FROM orders WHERE user_id = ${userId}::uuid`;
  return Number(row!.n);
};
/**
 * Makes the orders look as if their payment was requested, and every request sent, a minute ago, and
 * due for the reconciler's next look.
 */
const ageRequests = async (ids: string[]) => {
  await db.$executeRaw`
    UPDATE orders SET payment_requested_at = now() - interval '1 minute', next_reconcile_at = now()
    WHERE id = ANY(${ids}::uuid[])`;
  await db.$executeRaw`
    UPDATE outbox SET sent_at = now() - interval '1 minute'
    WHERE type = 'PaymentRequested' AND payload #>> '{payload,orderId}' = ANY(${ids}::text[])`;
};
const reconcileState = async (id: string) => {
  const [row] = await db.$queryRaw<{ attempts: number; waitSeconds: number }[]>`
    SELECT reconcile_attempts AS attempts,
           extract(epoch FROM next_reconcile_at - now())::float8 AS "waitSeconds"
    FROM orders WHERE id = ${id}::uuid`;
  return row!;
};
const nothingQueued = async () => new Set<string>();

describe("createOrder", () => {
  it("writes the order as NEW and its PaymentRequested in the same transaction", async () => {
    const userId = randomUUID();
    const order = await createOrder(db, { userId, amount: 25_000, description: "Ёлка 🎄" });
    expect(order).toMatchObject({ userId, amount: 25_000, status: "NEW", cancelReason: null });
    const [message] = await outboxOf(order.id);
    expect(message).toMatchObject({ queue: "payments.requests", type: "PaymentRequested", sentAt: null });
    expect(message?.payload).toMatchObject({ payload: { orderId: order.id, userId, amount: 25_000 } });
  });

  it("makes one order for 20 concurrent requests with the same Idempotency-Key", async () => {
    const userId = randomUUID();
    const key = randomUUID();
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        createOrder(db, { userId, amount: 700, description: "double click" }, key),
      ),
    );
    expect(new Set(results.map((o) => o.id)).size).toBe(1);
    expect(await ordersOf(userId)).toBe(1);
    expect(await outboxOf(results[0]!.id)).toHaveLength(1);
  });

  it("refuses the same key with another request and writes nothing", async () => {
    const userId = randomUUID();
    const key = randomUUID();
    await createOrder(db, { userId, amount: 100, description: "first" }, key);
    await expect(createOrder(db, { userId, amount: 101, description: "first" }, key)).rejects.toBeInstanceOf(
      IdempotencyKeyReused,
    );
    expect(await ordersOf(userId)).toBe(1);
  });
});

const changesOf = async (orderId: string) => {
  const [row] = await db.$queryRaw<{ n: bigint }[]>`
    SELECT count(*) AS n FROM order_changes WHERE order_id = ${orderId}::uuid`;
  return Number(row!.n);
};

/** `db`, counting the statements sent through it. */
function countingDb() {
  const counted = {
    statements: 0,
    $queryRaw<T>(query: TemplateStringsArray, ...values: unknown[]) {
      counted.statements++;
      return db.$queryRaw<T>(query, ...values);
    },
    $executeRaw(query: TemplateStringsArray, ...values: unknown[]) {
      counted.statements++;
      return db.$executeRaw(query, ...values);
    },
    $transaction: db.$transaction.bind(db),
  };
  return counted;
}

describe("createOrderPlacer", () => {
  it("inserts orders placed while an insert is under way with one statement, each with its rows, and publishes each", async () => {
    const counted = countingDb();
    const published: PaymentRequested[] = [];
    const place = createOrderPlacer({
      db: counted,
      publish: async (request) => void published.push(request),
    });
    const userId = randomUUID();
    const placeNth = (i: number) => place({ userId, amount: 100 + i, description: `order ${i}` });
    const first = placeNth(0);
    while (counted.statements === 0) await new Promise((resolve) => setImmediate(resolve));
    const rest = Array.from({ length: 19 }, (_, i) => placeNth(i + 1));
    const orders = await Promise.all([first, ...rest]);
    // The first goes alone, at once; the other 19 arrive while it commits and share the next statement.
    expect(counted.statements).toBe(2);
    expect(orders.map((o) => o.amount)).toEqual(Array.from({ length: 20 }, (_, i) => 100 + i));
    expect(await ordersOf(userId)).toBe(20);
    for (const order of orders) {
      expect(order).toMatchObject({ userId, status: "NEW" });
      expect(await changesOf(order.id)).toBe(1);
      const [message] = await outboxOf(order.id);
      expect(message?.payload).toMatchObject({
        payload: { orderId: order.id, userId, amount: order.amount },
      });
    }
    expect(published.map((r) => r.payload.orderId).sort()).toEqual(orders.map((o) => o.id).sort());
  });

  it("fails only the order that breaks its group: the others are placed, the bad one leaves nothing", async () => {
    const place = createOrderPlacer({ db });
    const userId = randomUUID();
    // A blank description passes no API schema, but the table refuses it whoever writes (a CHECK).
    const descriptions = ["first", "second", "   ", "fourth", "fifth", "sixth"];
    const results = await Promise.allSettled(
      descriptions.map((description) => place({ userId, amount: 500, description })),
    );
    expect(results.map((r) => r.status)).toEqual([
      "fulfilled",
      "fulfilled",
      "rejected",
      "fulfilled",
      "fulfilled",
      "fulfilled",
    ]);
    expect(String((results[2] as PromiseRejectedResult).reason)).toMatch(/orders_description_check/);
    expect(await ordersOf(userId)).toBe(5);
    const [outbox] = await db.$queryRaw<{ n: bigint }[]>`
      SELECT count(*) AS n FROM outbox WHERE payload #>> '{payload,userId}' = ${userId}`;
    expect(Number(outbox!.n)).toBe(5);
  });

  it("keeps the Idempotency-Key path: a repeat returns the first order and publishes nothing", async () => {
    const published: PaymentRequested[] = [];
    const place = createOrderPlacer({ db, publish: async (request) => void published.push(request) });
    const userId = randomUUID();
    const key = randomUUID();
    const first = await place({ userId, amount: 300, description: "keyed" }, key);
    const again = await place({ userId, amount: 300, description: "keyed" }, key);
    expect(again.id).toBe(first.id);
    expect(await ordersOf(userId)).toBe(1);
    expect(published.map((r) => r.payload.orderId)).toEqual([first.id]);
  });
});

describe("reading orders", () => {
  it("lists only the caller's orders, newest first, page by page", async () => {
    const alice = randomUUID();
    const bob = randomUUID();
    const created = [];
    for (let i = 0; i < 5; i++)
      created.push(await createOrder(db, { userId: alice, amount: i + 1, description: `a${i}` }));
    await createOrder(db, { userId: bob, amount: 9, description: "bob's" });

    const first = await listOrders(db, alice, { limit: 2 });
    const second = await listOrders(db, alice, { limit: 2, cursor: first.nextCursor });
    const third = await listOrders(db, alice, { limit: 2, cursor: second.nextCursor });
    const ids = [...first.orders, ...second.orders, ...third.orders].map((o) => o.id);
    expect(ids).toEqual(newestFirst(created).map((o) => o.id));
    expect(third.nextCursor).toBeNull();
    expect([first, second, third].flatMap((p) => p.orders).every((o) => o.userId === alice)).toBe(true);

    expect(await getOrder(db, alice, created[0]!.id)).toMatchObject({ id: created[0]!.id });
    expect(await getOrder(db, bob, created[0]!.id)).toBeNull();
  });
});

describe("settleOrder", () => {
  it("moves NEW to FINISHED once; a late or repeated result changes nothing", async () => {
    const userId = randomUUID();
    const order = await createOrder(db, { userId, amount: 500, description: "paid" });
    const succeeded = buildMessage("PaymentSucceeded", { orderId: order.id, userId, amount: 500 });
    const failed = buildMessage("PaymentFailed", {
      orderId: order.id,
      userId,
      amount: 500,
      reason: "INSUFFICIENT_FUNDS",
    });

    const first = await settleOrder(db, succeeded);
    expect(first).toMatchObject({ changed: true, order: { status: "FINISHED", cancelReason: null } });
    expect(await settleOrder(db, succeeded)).toMatchObject({ changed: false, order: { status: "FINISHED" } });
    expect(await settleOrder(db, failed)).toMatchObject({ changed: false, order: { status: "FINISHED" } });
  });

  it("moves NEW to CANCELLED with the reason", async () => {
    const userId = randomUUID();
    const order = await createOrder(db, { userId, amount: 500, description: "no money" });
    const failed = buildMessage("PaymentFailed", {
      orderId: order.id,
      userId,
      amount: 500,
      reason: "NO_ACCOUNT",
    });
    expect(await settleOrder(db, failed)).toMatchObject({
      changed: true,
      order: { status: "CANCELLED", cancelReason: "NO_ACCOUNT" },
    });
  });

  it("refuses a result whose userId or amount is not the order's: the order stays NEW", async () => {
    const userId = randomUUID();
    const order = await createOrder(db, { userId, amount: 500, description: "forged results" });
    const forged = [
      buildMessage("PaymentSucceeded", { orderId: order.id, userId: randomUUID(), amount: 1 }),
      buildMessage("PaymentSucceeded", { orderId: order.id, userId: randomUUID(), amount: 500 }),
      buildMessage("PaymentSucceeded", { orderId: order.id, userId, amount: 1 }),
      buildMessage("PaymentFailed", { orderId: order.id, userId, amount: 499, reason: "NO_ACCOUNT" }),
    ];
    for (const result of forged) {
      const outcome = await settleOrder(db, result);
      expect(outcome).toMatchObject({ changed: false, order: { id: order.id, status: "NEW" } });
      expect(outcome.refused).toMatch(/differ from the order's/);
    }
    expect(await getOrder(db, userId, order.id)).toMatchObject({ status: "NEW" });

    // The real result still settles it; a forged copy in the same group is refused beside it.
    const real = buildMessage("PaymentFailed", {
      orderId: order.id,
      userId,
      amount: 500,
      reason: "NO_ACCOUNT",
    });
    const { outcomes, events } = await settleOrders(db, [forged[0]!, real]);
    expect(outcomes.map((o) => [o.changed, o.refused === undefined])).toEqual([
      [false, false],
      [true, true],
    ]);
    expect(events.filter((e) => e.orderId === order.id).map((e) => e.status)).toEqual(["CANCELLED"]);
    // Once settled, a mismatching result is still refused (not taken for a late one).
    expect((await settleOrder(db, forged[1]!)).refused).toMatch(/userId/);
    expect(await getOrder(db, userId, order.id)).toMatchObject({ status: "CANCELLED" });
  });

  it("finds each order by id: its reads do not grow with the table or with the orders settled before", async () => {
    const client = await db.pool.connect();
    try {
      const userId = randomUUID();
      const blocksToSettle = (orderId: string) =>
        pagesRead(
          client,
          `SELECT * FROM settle_orders(ARRAY[$1::uuid], ARRAY[$2::uuid], ARRAY[5::bigint],
                                       ARRAY['FINISHED'::"OrderStatus"], ARRAY[NULL::"CancelReason"])`,
          [orderId, userId],
        );
      const place = () => createOrder(db, { userId, amount: 5, description: "one" });

      // A worker's connection plans the function's statements once, for any group, and keeps the plans:
      // here they are made while the table is small, as on a fresh database.
      await client.query("SET plan_cache_mode = force_generic_plan");
      await db.$executeRaw`ALTER TABLE orders SET (autovacuum_enabled = false)`;
      await blocksToSettle(randomUUID());
      await blocksToSettle((await place()).id);

      // Then 30,000 orders are placed and settled: the table grows, and each settled order leaves its
      // NEW entry in the status indexes until vacuum (kept away here).
      await db.$executeRaw`
        WITH made AS (
          INSERT INTO orders (id, user_id, amount, description, updated_at)
          SELECT gen_random_uuid(), gen_random_uuid(), 100, 'bulk', now() FROM generate_series(1, 30000)
          RETURNING id, user_id)
        SELECT count(*) FROM settle_orders(
          ARRAY(SELECT id FROM made), ARRAY(SELECT user_id FROM made), ARRAY(SELECT 100::bigint FROM made),
          ARRAY(SELECT 'FINISHED'::"OrderStatus" FROM made),
          ARRAY(SELECT NULL::"CancelReason" FROM made))`;

      const order = await place();
      // 33 pages before and 75 after here (the indexes one level deeper); the settle in one statement read
      // 34, then 592.
      expect(await blocksToSettle(order.id)).toBeLessThan(150);
      expect(await getOrder(db, userId, order.id)).toMatchObject({ status: "FINISHED" });
    } finally {
      client.release();
    }
  }, 60_000);
});

describe("reRequestStalePayments", () => {
  it("re-requests only orders still NEW past the age, once per pass", async () => {
    const userId = randomUUID();
    const stale = await createOrder(db, { userId, amount: 10, description: "stale" });
    const settled = await createOrder(db, { userId, amount: 10, description: "settled" });
    await settleOrder(db, buildMessage("PaymentSucceeded", { orderId: settled.id, userId, amount: 10 }));
    await ageRequests([stale.id, settled.id]);

    expect(await reRequestStalePayments(db, 30_000, nothingQueued)).toEqual({
      reRequested: 1,
      stillQueued: 0,
    });
    expect(await outboxOf(stale.id)).toHaveLength(2);
    expect(await outboxOf(settled.id)).toHaveLength(1);
    // Just re-requested: not stale again until the age passes once more.
    await reRequestStalePayments(db, 30_000, nothingQueued);
    expect(await outboxOf(stale.id)).toHaveLength(2);
  });

  it("leaves an order alone while its latest request is still queued, and asks once it is gone", async () => {
    const userId = randomUUID();
    const slow = await createOrder(db, { userId, amount: 10, description: "queued behind a backlog" });
    const [first] = await outboxOf(slow.id);
    await ageRequests([slow.id]);
    const asked: string[][] = [];
    const stillQueued = async (ids: string[]) => {
      asked.push(ids);
      return new Set(ids.filter((id) => id === first!.id));
    };

    expect(await reRequestStalePayments(db, 30_000, stillQueued)).toEqual({ reRequested: 0, stillQueued: 1 });
    expect(asked.flat()).toContain(first!.id);
    expect(await outboxOf(slow.id)).toHaveLength(1);

    // The request left the queue without a result (lost, dead-lettered): ask again, and track the new one.
    await ageRequests([slow.id]);
    expect(await reRequestStalePayments(db, 30_000, nothingQueued)).toMatchObject({ reRequested: 1 });
    const messages = await outboxOf(slow.id);
    expect(messages).toHaveLength(2);
    await ageRequests([slow.id]);
    const second = messages[1]!.id;
    await reRequestStalePayments(db, 30_000, async (ids) => new Set(ids.filter((id) => id === second)));
    expect(await outboxOf(slow.id)).toHaveLength(2);
  });

  it("leaves an order alone while its request is unsent, or sent less than the age ago", async () => {
    const userId = randomUUID();
    const order = await createOrder(db, { userId, amount: 10, description: "relay behind" });
    const [request] = await outboxOf(order.id);
    // Placed long ago, but its request never left the outbox (Redis or the relay was away).
    await db.$executeRaw`
      UPDATE orders SET payment_requested_at = now() - interval '1 hour' WHERE id = ${order.id}::uuid`;
    const asked: string[] = [];
    const recordingNothingQueued = async (ids: string[]) => {
      asked.push(...ids);
      return new Set<string>();
    };
    expect(await reRequestStalePayments(db, 30_000, recordingNothingQueued)).toEqual({
      reRequested: 0,
      stillQueued: 0,
    });
    // Published just now: its age starts from there.
    await db.$executeRaw`UPDATE outbox SET sent_at = now() WHERE id = ${request!.id}::uuid`;
    await reRequestStalePayments(db, 30_000, recordingNothingQueued);
    expect(asked).not.toContain(request!.id);
    expect(await outboxOf(order.id)).toHaveLength(1);
    expect(await reconcileState(order.id)).toMatchObject({ attempts: 0 });

    await db.$executeRaw`UPDATE outbox SET sent_at = now() - interval '1 minute' WHERE id = ${request!.id}::uuid`;
    await reRequestStalePayments(db, 30_000, recordingNothingQueued);
    expect(asked).toContain(request!.id);
    expect(await outboxOf(order.id)).toHaveLength(2);
  });

  it("counts the next look from the re-request's commit, however long the pass waited on a lock", async () => {
    const userId = randomUUID();
    const order = await createOrder(db, { userId, amount: 10, description: "re-requested late" });
    await ageRequests([order.id]);
    const ageMs = 2_000;
    // Another session holds the outbox, so the pass blocks on its insert with the order locked, for
    // longer than the age (as when two orders workers' reconcilers overlap).
    const blocker = await db.pool.connect();
    try {
      await blocker.query("BEGIN");
      await blocker.query("LOCK TABLE outbox IN EXCLUSIVE MODE");
      const pass = reRequestStalePayments(db, ageMs, nothingQueued);
      await waitFor(
        async () => {
          const [row] = await db.$queryRaw<{ n: bigint }[]>`
            SELECT count(*) AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock'
              AND query LIKE '%INSERT INTO outbox%' AND xact_start < clock_timestamp() - interval '2.5 seconds'`;
          return row!.n > 0n;
        },
        { what: "the pass blocked on the outbox for longer than the age", timeoutMs: 30_000 },
      );
      await blocker.query("COMMIT");
      expect(await pass).toEqual({ reRequested: 1, stillQueued: 0 });
    } finally {
      // Destroyed, not pooled: had the wait failed, its transaction would still hold the outbox.
      blocker.release(true);
    }
    const [stamps] = await db.$queryRaw<{ dueIn: number; requestedAgo: number }[]>`
      SELECT extract(epoch FROM next_reconcile_at - clock_timestamp())::float8 AS "dueIn",
             extract(epoch FROM clock_timestamp() - payment_requested_at)::float8 AS "requestedAgo"
      FROM orders WHERE id = ${order.id}::uuid`;
    // Not already due: the age runs from the commit, not from the pass's start 2.5 s before it.
    expect(stamps!.dueIn).toBeGreaterThan(1);
    expect(stamps!.requestedAgo).toBeLessThan(1);
  });

  it("backs off per order: each re-request waits twice as long as the one before, up to the cap", async () => {
    const userId = randomUUID();
    const order = await createOrder(db, { userId, amount: 10, description: "payments down" });
    const options = { maxBackoffMs: 100_000 };
    const look = async (queued: InFlightRequests) => {
      await ageRequests([order.id]);
      await reRequestStalePayments(db, 30_000, queued, options);
      const state = await reconcileState(order.id);
      return { attempts: state.attempts, wait: Math.round(state.waitSeconds) };
    };
    const allQueued = async (ids: string[]) => new Set(ids);
    expect(await look(nothingQueued)).toEqual({ attempts: 1, wait: 30 });
    expect(await look(nothingQueued)).toEqual({ attempts: 2, wait: 60 });
    // Found in flight: only slow, so no attempt is spent and the next look comes after the age.
    expect(await look(allQueued)).toEqual({ attempts: 2, wait: 30 });
    expect(await look(nothingQueued)).toEqual({ attempts: 3, wait: 100 });
    expect(await look(nothingQueued)).toEqual({ attempts: 4, wait: 100 });

    // Not due yet: left alone, however old its request.
    await db.$executeRaw`
      UPDATE outbox SET sent_at = now() - interval '1 hour'
      WHERE payload #>> '{payload,orderId}' = ${order.id}`;
    const before = (await outboxOf(order.id)).length;
    await reRequestStalePayments(db, 30_000, nothingQueued, options);
    expect(await outboxOf(order.id)).toHaveLength(before);
    expect((await reconcileState(order.id)).attempts).toBe(4);
  });
});
