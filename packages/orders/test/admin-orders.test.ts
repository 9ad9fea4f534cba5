// The admin's list of every user's orders.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSqlPool, type SqlPool } from "@gozon/db/sql-client";
import { createTestDatabases, queryPlanOf, type TestDatabases } from "@gozon/db/testing";
import { buildMessage } from "@gozon/messaging/contracts";
import { listAllOrders, type AllOrdersFilter, type OrderPosition } from "../src/all-orders.ts";
import { createOrder } from "../src/create-order.ts";
import type { OrderDto } from "../src/order-dto.ts";
import { settleOrder } from "../src/settle-order.ts";

let dbs: TestDatabases;
let db: SqlPool;

beforeAll(async () => {
  dbs = await createTestDatabases("orders_admin");
  db = createSqlPool(dbs.urls.orders);
});
afterAll(async () => {
  await db?.$disconnect();
  await dbs?.drop();
});

const place = (userId: string, amount = 100) => createOrder(db, { userId, amount, description: "test" });
const succeed = (order: OrderDto) =>
  settleOrder(
    db,
    buildMessage("PaymentSucceeded", { orderId: order.id, userId: order.userId, amount: order.amount }),
  );
const fail = (order: OrderDto) =>
  settleOrder(
    db,
    buildMessage("PaymentFailed", {
      orderId: order.id,
      userId: order.userId,
      amount: order.amount,
      reason: "INSUFFICIENT_FUNDS",
    }),
  );

async function allPages(filter: AllOrdersFilter, limit: number, between?: () => Promise<unknown>) {
  const seen: OrderDto[] = [];
  let before: OrderPosition | null = null;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await listAllOrders(db, filter, { limit, before });
    expect(page.orders.length).toBeLessThanOrEqual(limit);
    seen.push(...page.orders);
    if (!page.hasMore) return seen;
    const last = page.orders.at(-1)!;
    before = { createdAt: new Date(last.createdAt), id: last.id };
    await between?.();
  }
  throw new Error("paging did not end");
}

const newestFirst = (a: OrderDto, b: OrderDto) =>
  b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id);

describe("listAllOrders", () => {
  it("lists every user's orders newest first and filters by status, users and creation time", async () => {
    const alice = randomUUID();
    const bob = randomUUID();
    const a1 = await place(alice);
    const b1 = await place(bob);
    const a2 = await place(alice);
    await succeed(a1);
    await fail(b1);

    const ours = (orders: OrderDto[]) => orders.filter((o) => o.userId === alice || o.userId === bob);

    expect(ours(await allPages({}, 2)).map((o) => o.id)).toEqual(
      [a1, b1, a2].sort(newestFirst).map((o) => o.id),
    );
    expect((await allPages({ userId: alice }, 1)).map((o) => o.id)).toEqual(
      [a1, a2].sort(newestFirst).map((o) => o.id),
    );
    expect(ours(await allPages({ status: "CANCELLED" }, 10)).map((o) => o.id)).toEqual([b1.id]);
    expect(ours(await allPages({ status: "FINISHED" }, 10)).map((o) => o.id)).toEqual([a1.id]);
    expect(await allPages({ userId: bob, status: "FINISHED" }, 10)).toEqual([]);

    // from is inclusive, to exclusive.
    const at = new Date(a2.createdAt);
    const fromA2 = ours(await allPages({ from: at }, 10));
    expect(fromA2.map((o) => o.id)).toContain(a2.id);
    expect(fromA2.every((o) => o.createdAt >= a2.createdAt)).toBe(true);
    const toA2 = ours(await allPages({ to: at }, 10));
    expect(toA2.map((o) => o.id)).not.toContain(a2.id);
    expect(toA2.every((o) => o.createdAt < a2.createdAt)).toBe(true);
  });

  it("pages the whole table with no order skipped or repeated while orders are placed and settled", async () => {
    const users = Array.from({ length: 5 }, () => randomUUID());
    for (let i = 0; i < 60; i++) await place(users[i % users.length]!, 1 + i);
    const before = await allPages({}, 1000);

    const placedMeanwhile: OrderDto[] = [];
    const seen = await allPages({}, 9, async () => {
      const [fresh, again] = await Promise.all([place(users[0]!), place(users[1]!)]);
      placedMeanwhile.push(fresh, again);
      await succeed(fresh);
    });
    const ids = seen.map((o) => o.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(before.every((o) => ids.includes(o.id))).toBe(true);
    expect(seen).toEqual([...seen].sort(newestFirst));
    expect(placedMeanwhile.length).toBeGreaterThan(0);

    const cancelledBefore = before.filter((o) => o.status === "CANCELLED");
    const cancelled = await allPages({ status: "CANCELLED" }, 2, () => place(users[2]!));
    expect(cancelled.map((o) => o.id).sort()).toEqual(cancelledBefore.map((o) => o.id).sort());
  });

  it.each([
    ["unfiltered", {}, "orders_created_at_id_idx"],
    ["by status", { status: "CANCELLED" }, "orders_status_created_at_id_idx"],
    ["by user", { userId: randomUUID() }, "orders_user_id_created_at_id_idx"],
  ] as const)("is served %s by an index in its order, without a sort", async (_, filter, index) => {
    const before = { createdAt: new Date(), id: randomUUID() };
    for (const position of [null, before]) {
      const plan = await queryPlanOf(db, (explain) =>
        listAllOrders(explain, filter, { limit: 20, before: position }),
      );
      expect(plan).toContain(index);
      expect(plan).not.toMatch(/Sort/);
    }
  });
});
