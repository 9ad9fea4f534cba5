// The order change log against a real Postgres: positions follow commit order and have no holes, even
// when a transaction commits after later ones; concurrent assigners never share or skip a position; the
// feed's reads stay on indexes at 100k rows; retention keeps the newest change.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSqlPool, type SqlPool } from "@gozon/db/sql-client";
import { createTestDatabases, type TestDatabases } from "@gozon/db/testing";
import { buildMessage } from "@gozon/messaging/contracts";
import type { SqlClient } from "@gozon/messaging/sql";
import { createOrder } from "../src/create-order.ts";
import { assignPositions, changesAfter, latestChanges, logBounds, purgeOrderLog } from "../src/order-log.ts";
import { getOrder, orderHistory } from "../src/read-orders.ts";
import { settleOrder, settleOrders } from "../src/settle-order.ts";

let dbs: TestDatabases;
let db: SqlPool;

beforeAll(async () => {
  dbs = await createTestDatabases("orderlog");
  db = createSqlPool(dbs.urls.orders);
});
afterAll(async () => {
  await db?.$disconnect();
  await dbs?.drop();
});

const place = (userId: string, description = "log") => createOrder(db, { userId, amount: 100, description });

/** Stamps everything waiting, however many batches that takes. */
async function assignAll(batch = 500) {
  const events = [];
  for (;;) {
    const stamped = await assignPositions(db, batch);
    events.push(...stamped);
    if (stamped.length < batch) return events;
  }
}

describe("order change log", () => {
  it("records every change of an order, in its own statement: the order's history", async () => {
    const userId = randomUUID();
    const order = await place(userId);
    const failed = buildMessage("PaymentFailed", {
      orderId: order.id,
      userId,
      amount: 100,
      reason: "INSUFFICIENT_FUNDS",
    });
    await settleOrder(db, failed);
    await settleOrder(db, failed); // a repeated result changes nothing, so it logs nothing
    const history = await orderHistory(db, (await getOrder(db, userId, order.id))!);
    expect(history.map((h) => [h.status, h.reason])).toEqual([
      ["NEW", null],
      ["CANCELLED", "INSUFFICIENT_FUNDS"],
    ]);
    expect(history[0]!.at).toBe(order.createdAt);
  });

  it("keeps an order's history once the log's retention has purged its changes, from the order's row", async () => {
    const userId = randomUUID();
    const order = await place(userId, "old");
    await settleOrder(
      db,
      buildMessage("PaymentFailed", { orderId: order.id, userId, amount: 100, reason: "NO_ACCOUNT" }),
    );
    await assignAll();
    const settled = (await getOrder(db, userId, order.id))!;
    const whole = await orderHistory(db, settled);
    // Its creation purged, then both: what the row says is what the log said.
    const [created] = await db.$queryRaw<{ id: bigint }[]>`
      SELECT min(id) AS id FROM order_changes WHERE order_id = ${order.id}::uuid`;
    await db.$executeRaw`DELETE FROM order_changes WHERE id = ${created!.id}`;
    expect(await orderHistory(db, settled)).toEqual(whole);
    await db.$executeRaw`DELETE FROM order_changes WHERE order_id = ${order.id}::uuid`;
    expect(await orderHistory(db, settled)).toEqual([
      { status: "NEW", reason: null, at: settled.createdAt },
      { status: "CANCELLED", reason: "NO_ACCOUNT", at: settled.updatedAt },
    ]);
    expect(whole.map(({ at }) => at)).toEqual([settled.createdAt, settled.updatedAt]);
  });

  it("positions a change that commits late after the changes that committed before it", async () => {
    await assignAll();
    const userId = randomUUID();
    // A transaction that writes an order and its change, then stays open while others commit.
    const late = new pg.Client({ connectionString: dbs.urls.orders });
    await late.connect();
    try {
      const lateOrderId = randomUUID();
      await late.query("BEGIN");
      await late.query(
        `INSERT INTO orders (id, user_id, amount, description, updated_at) VALUES ($1, $2, 100, 'late', now())`,
        [lateOrderId, userId],
      );
      await late.query(`INSERT INTO order_changes (order_id, user_id, status) VALUES ($1, $2, 'NEW')`, [
        lateOrderId,
        userId,
      ]);

      const early = [await place(userId, "a"), await place(userId, "b"), await place(userId, "c")];
      const delivered = await assignAll();
      expect(delivered.map((e) => e.orderId)).toEqual(early.map((o) => o.id));
      const seen = delivered.at(-1)!.position;

      await late.query("COMMIT");
      const afterCommit = await assignAll();
      expect(afterCommit.map((e) => [e.orderId, e.position])).toEqual([[lateOrderId, seen + 1]]);
      // A client that had seen everything up to `seen` gets it on resume.
      const resumed = await changesAfter(db, seen, { userId, limit: 100 });
      expect(resumed.map((e) => e.orderId)).toEqual([lateOrderId]);

      // Its row was written first: ordering by the row id (or by time) would have put it before `seen`.
      const [ids] = await db.$queryRaw<{ late: bigint; first: bigint }[]>`
        SELECT (SELECT id FROM order_changes WHERE order_id = ${lateOrderId}::uuid) AS late,
               (SELECT id FROM order_changes WHERE order_id = ${early[0]!.id}::uuid) AS first`;
      expect(ids!.late).toBeLessThan(ids!.first);
    } finally {
      await late.end();
    }
  });

  it("concurrent assigners hand out every position once, without holes", async () => {
    await assignAll();
    const before = (await logBounds(db)).last;
    const userId = randomUUID();
    await Promise.all(Array.from({ length: 400 }, (_, i) => place(userId, `p${i}`)));
    const runs = await Promise.all(Array.from({ length: 4 }, () => assignAll(25)));
    const positions = runs.flat().map((e) => e.position);
    expect(positions).toHaveLength(400);
    expect([...positions].sort((a, b) => a - b)).toEqual(
      Array.from({ length: 400 }, (_, i) => before + 1 + i),
    );
    for (const run of runs) {
      const own = run.map((e) => e.position);
      expect(own).toEqual([...own].sort((a, b) => a - b));
    }
  });

  it("a settle group stamps waiting creates first, then its own changes, all numbered as it commits", async () => {
    await assignAll();
    const before = (await logBounds(db)).last;
    const userId = randomUUID();
    const [a, b, done] = [await place(userId, "a"), await place(userId, "b"), await place(userId, "done")];
    await settleOrder(db, buildMessage("PaymentSucceeded", { orderId: done.id, userId, amount: 100 }));
    const succeeded = buildMessage("PaymentSucceeded", { orderId: a.id, userId, amount: 100 });
    const failed = buildMessage("PaymentFailed", {
      orderId: b.id,
      userId,
      amount: 100,
      reason: "INSUFFICIENT_FUNDS",
    });
    const late = buildMessage("PaymentFailed", {
      orderId: done.id,
      userId,
      amount: 100,
      reason: "INSUFFICIENT_FUNDS",
    });
    const unknown = buildMessage("PaymentSucceeded", { orderId: randomUUID(), userId, amount: 100 });

    const { outcomes, events } = await settleOrders(db, [succeeded, failed, succeeded, late, unknown]);
    expect(outcomes.map((o) => [o.order?.status ?? null, o.changed])).toEqual([
      ["FINISHED", true],
      ["CANCELLED", true],
      ["FINISHED", false], // the same result twice in one group changes the order once
      ["FINISHED", false], // a late result for an order settled earlier changes nothing
      [null, false],
    ]);
    // Nothing is left for the assigner: the creates and the first settle were stamped by the settles.
    expect(await assignPositions(db)).toEqual([]);
    const log = await changesAfter(db, before, { userId, limit: 100 });
    expect(log.map((e) => e.position)).toEqual(Array.from({ length: log.length }, (_, i) => before + 1 + i));
    expect(log.map((e) => [e.orderId, e.status])).toEqual([
      [a.id, "NEW"],
      [b.id, "NEW"],
      [done.id, "NEW"],
      [done.id, "FINISHED"],
      ...[
        [a.id, "FINISHED"],
        [b.id, "CANCELLED"],
      ].sort(([x], [y]) => x!.localeCompare(y!)),
    ]);
    // The second group's events are exactly the changes it made, in position order.
    expect(events).toEqual(log.slice(4));
  });

  it("after an outage, a settle numbers its own orders' creates and at most 500 others; the assigner the rest", async () => {
    await assignAll();
    const before = (await logBounds(db)).last;
    // Orders that came in while the orders worker (the assigner and the settles) was away.
    await db.$executeRaw`
      WITH made AS (
        INSERT INTO orders (id, user_id, amount, description, updated_at)
        SELECT gen_random_uuid(), gen_random_uuid(), 100, 'backlog', now() FROM generate_series(1, 2000)
        RETURNING id, user_id, created_at)
      INSERT INTO order_changes (order_id, user_id, status, at)
      SELECT id, user_id, 'NEW', created_at FROM made`;
    const userId = randomUUID();
    const newest = await place(userId, "after the outage");

    const { events } = await settleOrders(db, [
      buildMessage("PaymentSucceeded", { orderId: newest.id, userId, amount: 100 }),
    ]);
    // The 500 oldest waiting, then the order's own creation, then its settle.
    expect(events.map((e) => e.position)).toEqual(Array.from({ length: 502 }, (_, i) => before + 1 + i));
    expect(events.slice(0, 500).every((e) => e.description === "backlog")).toBe(true);
    expect(events.slice(500).map((e) => [e.orderId, e.status])).toEqual([
      [newest.id, "NEW"],
      [newest.id, "FINISHED"],
    ]);

    const rest = await assignAll();
    expect(rest.map((e) => e.position)).toEqual(Array.from({ length: 1500 }, (_, i) => before + 503 + i));
    expect(rest.every((e) => e.description === "backlog")).toBe(true);
  });

  it("settle groups racing over the same orders neither deadlock nor settle an order twice", async () => {
    await assignAll();
    const before = (await logBounds(db)).last;
    const userId = randomUUID();
    const orders = await Promise.all(Array.from({ length: 40 }, (_, i) => place(userId, `r${i}`)));
    const results = orders.map((o) =>
      buildMessage("PaymentSucceeded", { orderId: o.id, userId, amount: 100 }),
    );
    // Each group updates the same rows in another order; row locks taken before the log's lock would
    // deadlock here (Postgres aborts one of them with 40P01).
    const groups = Array.from({ length: 6 }, (_, g) =>
      g % 2 === 0 ? results.slice(g) : [...results].reverse().slice(g),
    );
    const settled = await Promise.all(groups.map((group) => settleOrders(db, group)));
    const changes = settled.flatMap((s) => s.outcomes.filter((o) => o.changed));
    expect(changes).toHaveLength(40);
    expect(new Set(changes.map((o) => o.order!.id)).size).toBe(40);
    const log = await changesAfter(db, before, { userId, limit: 1000 });
    expect(log).toHaveLength(80);
    expect(log.map((e) => e.position)).toEqual(Array.from({ length: 80 }, (_, i) => before + 1 + i));
    // Every order's creation comes before its settle.
    const created = new Map(log.filter((e) => e.status === "NEW").map((e) => [e.orderId, e.position]));
    for (const e of log.filter((x) => x.status === "FINISHED"))
      expect(e.position).toBeGreaterThan(created.get(e.orderId)!);
  });

  it("purges only from the start of the log: an old change after a recent one stays, leaving no hole", async () => {
    for (let i = 0; i < 6; i++) await place(randomUUID(), "purge");
    await assignAll();
    const { last } = await logBounds(db);
    // Every change old, but one near the end recent: what comes after it must stay.
    await db.$executeRaw`UPDATE order_changes SET at = now() - interval '400 days'`;
    await db.$executeRaw`UPDATE order_changes SET at = now() WHERE position = ${last - 2}`;
    const purged = await purgeOrderLog(db, 365, 2);
    expect(purged).toBeGreaterThan(0);
    expect(await logBounds(db)).toEqual({ first: last - 2, last });
    const kept = await db.$queryRaw<{ position: bigint }[]>`
      SELECT position FROM order_changes WHERE position IS NOT NULL ORDER BY position`;
    expect(kept.map((row) => Number(row.position))).toEqual([last - 2, last - 1, last]);
  });

  it("keeps the newest change when purging, so the log still knows its last position", async () => {
    await assignAll();
    const { last } = await logBounds(db);
    await db.$executeRaw`UPDATE order_changes SET at = now() - interval '400 days'`;
    const purged = await purgeOrderLog(db, 365, 50);
    expect(purged).toBeGreaterThan(0);
    const bounds = await logBounds(db);
    expect(bounds).toEqual({ first: last, last });
  });
});

describe("the feed's reads at 100k changes", () => {
  /** Every plan node of an EXPLAIN (FORMAT JSON) result. */
  function nodes(plan: Record<string, unknown>): Record<string, unknown>[] {
    const children = (plan["Plans"] as Record<string, unknown>[] | undefined) ?? [];
    return [plan, ...children.flatMap(nodes)];
  }

  /** Runs the function's own SQL under EXPLAIN and returns the plan nodes of each statement. */
  async function plansOf(read: (client: SqlClient) => Promise<unknown>) {
    const plans: Record<string, unknown>[][] = [];
    const explaining: SqlClient = {
      $queryRaw: async <T>(strings: TemplateStringsArray, ...values: unknown[]) => {
        const explained = Object.assign([`EXPLAIN (FORMAT JSON) ${strings[0]}`, ...strings.slice(1)], {
          raw: [`EXPLAIN (FORMAT JSON) ${strings.raw[0]}`, ...strings.raw.slice(1)],
        });
        const [row] = await db.$queryRaw<{ "QUERY PLAN": { Plan: Record<string, unknown> }[] }[]>(
          explained,
          ...values,
        );
        plans.push(nodes(row!["QUERY PLAN"][0]!.Plan));
        return [] as T;
      },
      $executeRaw: () => Promise.reject(new Error("read only")),
    };
    await read(explaining);
    return plans;
  }

  it("resume (all or one user's) and the admin's first page never scan a table", async () => {
    const heavyUser = randomUUID();
    await db.$executeRaw`
      WITH made AS (
        INSERT INTO orders (id, user_id, amount, description, status, updated_at)
        SELECT gen_random_uuid(), CASE WHEN i % 100 = 0 THEN ${heavyUser}::uuid ELSE gen_random_uuid() END,
               100, 'bulk', 'NEW', now()
        FROM generate_series(1, 100000) AS i
        RETURNING id, user_id)
      INSERT INTO order_changes (order_id, user_id, status) SELECT id, user_id, 'NEW' FROM made`;
    await assignAll(20_000);
    await db.$executeRaw`ANALYZE orders`;
    await db.$executeRaw`ANALYZE order_changes`;
    const { last } = await logBounds(db);
    expect(last).toBeGreaterThan(100_000);

    const plans = [
      ...(await plansOf((c) => changesAfter(c, 0, { userId: null, limit: 500 }))),
      ...(await plansOf((c) => changesAfter(c, last - 5_000, { userId: null, limit: 500 }))),
      ...(await plansOf((c) => changesAfter(c, 0, { userId: heavyUser, limit: 500 }))),
      ...(await plansOf((c) => changesAfter(c, last - 5_000, { userId: heavyUser, limit: 500 }))),
      ...(await plansOf((c) => latestChanges(c, 50))),
    ];
    expect(plans).toHaveLength(5);
    for (const plan of plans) {
      const types = plan.map((node) => node["Node Type"]);
      expect(types).not.toContain("Seq Scan");
      expect(types.some((t) => String(t).startsWith("Index"))).toBe(true);
    }
  }, 120_000);
});
