// Group commit through its real functions against a real Postgres: a group decides exactly what the
// requests one by one would have, and a group that fails is retried message by message.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSqlPool, type SqlPool } from "@gozon/db/sql-client";
import type { PaymentRequested } from "@gozon/messaging/contracts";
import { topUp } from "../src/accounts.ts";
import { createPaymentRequestBatcher, type GroupEvent } from "../src/group-commit.ts";
import { receivePaymentRequest, receivePaymentRequests, type Received } from "../src/process-payment.ts";
import { balanceOf, log, outboxResultsFor, paymentsDatabase, request } from "./helpers.ts";
import * as helpers from "./helpers.ts";

let db: SqlPool;
let url: string;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ db, url, close } = await paymentsDatabase("group"));
});
afterAll(async () => {
  await close?.();
});

const accountWith = (balance: number) => helpers.accountWith(db, balance);

/** What a delivery's outcome says: the result type, or the failure reason. */
function answer({ outcome }: Received) {
  if (outcome.status !== "decided" && outcome.status !== "resent") return outcome.status;
  return outcome.result.type === "PaymentFailed" ? outcome.result.payload.reason : "SUCCEEDED";
}

async function statementOf(userId: string) {
  const rows = await db.$queryRaw<{ amount: bigint; balanceAfter: bigint; orderId: string | null }[]>`
    SELECT amount, balance_after AS "balanceAfter", order_id::text AS "orderId" FROM ledger_entries
    WHERE user_id = ${userId}::uuid ORDER BY id`;
  return rows.map((row) => ({ ...row, amount: Number(row.amount), balanceAfter: Number(row.balanceAfter) }));
}

async function debitsFor(orderId: string) {
  const [row] = await db.$queryRaw<{ n: bigint }[]>`
    SELECT count(*) AS n FROM ledger_entries WHERE order_id = ${orderId}::uuid`;
  return Number(row!.n);
}

async function decisionFor(orderId: string) {
  const [row] = await db.$queryRaw<{ outcome: string; reason: string | null }[]>`
    SELECT outcome::text AS outcome, reason::text AS reason FROM payment_decisions WHERE order_id = ${orderId}::uuid`;
  return row;
}

describe("a group", () => {
  it("charges an account's orders in the group's order and fails exactly those its balance cannot pay", async () => {
    const alice = await accountWith(1_000);
    const bob = await accountWith(50);
    const forAlice = [400, 700, 300, 500, 100, 200].map((amount) => request(alice, amount));
    const forBob = [request(bob, 30), request(bob, 30)];
    const nobody = request(randomUUID(), 10);
    const group = [
      forAlice[0]!,
      forBob[0]!,
      forAlice[1]!,
      nobody,
      forAlice[2]!,
      forBob[1]!,
      ...forAlice.slice(3),
    ];

    const received = await receivePaymentRequests(db, group, log);
    expect(received.every((r) => r.stored && r.outcome.status === "decided")).toBe(true);
    const answerTo = (message: PaymentRequested) => answer(received[group.indexOf(message)]!);
    expect(forAlice.map(answerTo)).toEqual([
      "SUCCEEDED",
      "INSUFFICIENT_FUNDS",
      "SUCCEEDED",
      "INSUFFICIENT_FUNDS",
      "SUCCEEDED",
      "SUCCEEDED",
    ]);
    expect(forBob.map(answerTo)).toEqual(["SUCCEEDED", "INSUFFICIENT_FUNDS"]);
    expect(answerTo(nobody)).toBe("NO_ACCOUNT");

    expect(await balanceOf(db, alice)).toBe(0);
    expect(await balanceOf(db, bob)).toBe(20);
    // Each debit wrote its entry with the balance right after it, in the order the balance changed.
    expect(await statementOf(alice)).toEqual([
      { amount: 1_000, balanceAfter: 1_000, orderId: null },
      { amount: -400, balanceAfter: 600, orderId: forAlice[0]!.payload.orderId },
      { amount: -300, balanceAfter: 300, orderId: forAlice[2]!.payload.orderId },
      { amount: -100, balanceAfter: 200, orderId: forAlice[4]!.payload.orderId },
      { amount: -200, balanceAfter: 0, orderId: forAlice[5]!.payload.orderId },
    ]);
    for (const message of group) {
      const { outcome } = received[group.indexOf(message)]!;
      expect(await decisionFor(message.payload.orderId)).toEqual(
        answerTo(message) === "SUCCEEDED"
          ? { outcome: "SUCCEEDED", reason: null }
          : { outcome: "FAILED", reason: answerTo(message) },
      );
      expect(await outboxResultsFor(db, message.payload.orderId)).toEqual([
        outcome.status === "decided" && outcome.result,
      ]);
    }
  });

  it("decides an order once when the group holds it twice (one message delivered twice, and a re-request) and re-sends an earlier decision", async () => {
    const userId = await accountWith(1_000);
    const earlier = request(userId, 100);
    await receivePaymentRequest(db, earlier, log);
    const order = request(userId, 300);
    const reRequest = request(userId, 300, order.payload.orderId);
    // The same order, spelt in capitals: one UUID for the database, so one order here too.
    const shouted = request(userId, 300, order.payload.orderId.toUpperCase());
    const askedAgain = request(userId, 100, earlier.payload.orderId);
    const group = [order, structuredClone(order), reRequest, shouted, askedAgain, structuredClone(earlier)];

    const received = await receivePaymentRequests(db, group, log);
    expect(received.map((r) => [r.stored, r.outcome.status, answer(r)])).toEqual([
      [true, "decided", "SUCCEEDED"],
      [false, "already-processed", "already-processed"],
      [true, "resent", "SUCCEEDED"],
      [true, "resent", "SUCCEEDED"],
      [true, "resent", "SUCCEEDED"],
      [false, "already-processed", "already-processed"],
    ]);
    expect(await debitsFor(order.payload.orderId)).toBe(1);
    expect(await debitsFor(earlier.payload.orderId)).toBe(1);
    expect(await balanceOf(db, userId)).toBe(600);
    const [row] = await db.$queryRaw<{ n: bigint }[]>`
      SELECT count(*) AS n FROM outbox WHERE lower(payload->'payload'->>'orderId') = ${order.payload.orderId}`;
    expect(row?.n).toBe(3n); // one per message: decided, re-sent, re-sent
    expect(await outboxResultsFor(db, earlier.payload.orderId)).toHaveLength(2);
  });
});

describe("a group that fails", () => {
  it("is retried message by message: the message that broke it fails on its own, its neighbours are decided", async () => {
    // The stuck order's lock is held elsewhere (a hung session): the group waits for it until the
    // statement timeout, which fails the whole group.
    const impatient = createSqlPool(url, { statementTimeoutMs: 1_000 });
    const groups: GroupEvent[] = [];
    const batcher = createPaymentRequestBatcher({ db: impatient, log, onGroup: (e) => groups.push(e) });
    const userId = await accountWith(1_000);
    const messages = [100, 200, 300, 400].map((amount) => request(userId, amount));
    const stuck = messages[2]!;
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked = () => {};
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    // Its own pool: the session stays idle in its transaction for the whole test, past the default
    // idle-in-transaction timeout on a slow machine.
    const holder = createSqlPool(url, { statementTimeoutMs: 120_000 });
    const holding = holder.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT pg_advisory_xact_lock(hashtextextended(${stuck.payload.orderId}, 0))::text`;
      locked();
      await released;
    });
    try {
      await Promise.race([isLocked, holding]);
      const settled = await Promise.allSettled(messages.map((message) => batcher.submit(message)));
      // Handed in together, the four form one group; its retries one by one are not groups of their own.
      expect(groups).toEqual([{ size: 4, ms: expect.any(Number), error: expect.any(Error) }]);
      expect(settled.map((s) => s.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
      // Whichever bound fires first on this machine: the statement timeout or the transaction's own.
      expect((settled[2] as PromiseRejectedResult).reason).toMatchObject({
        message: expect.stringMatching(/statement timeout|transaction exceeded/),
      });
      for (const i of [0, 1, 3]) {
        const { value } = settled[i] as PromiseFulfilledResult<Received>;
        expect(value).toMatchObject({ stored: true, outcome: { status: "decided" } });
      }
      expect(await balanceOf(db, userId)).toBe(300);
      expect(await decisionFor(stuck.payload.orderId)).toBeUndefined();
    } finally {
      release();
      await holding;
      await holder.$disconnect();
      await impatient.$disconnect();
    }

    // Its retry (BullMQ's, in the worker) once the lock is free: decided once.
    const retrying = createSqlPool(url);
    try {
      const again = createPaymentRequestBatcher({ db: retrying, log, onGroup: (e) => groups.push(e) });
      expect(answer(await again.submit(stuck))).toBe("SUCCEEDED");
      expect(groups.at(-1)).toEqual({ size: 1, ms: expect.any(Number) });
    } finally {
      await retrying.$disconnect();
    }
    expect(await debitsFor(stuck.payload.orderId)).toBe(1);
    expect(await balanceOf(db, userId)).toBe(0);
  });
});

describe("groups of several workers, and the per-message path, at once", () => {
  it("never deadlock and keep every balance exact, whatever order their orders and accounts come in", async () => {
    // Enough other accounts for Postgres to reach each account by its index, in the statement's order of
    // orders, as it would in production (a handful of rows gets scanned in one order whatever the query).
    await db.$executeRaw`
      INSERT INTO accounts (user_id, balance, updated_at) SELECT gen_random_uuid(), 0, now() FROM generate_series(1, 20000)`;
    await db.$executeRaw`ANALYZE accounts`;
    const users = await Promise.all(Array.from({ length: 20 }, () => accountWith(5_000)));
    const orders = Array.from({ length: 600 }, (_, i) =>
      request(users[i % users.length]!, 1 + Math.floor(Math.random() * 400)),
    );
    const reRequests = orders
      .filter((_, i) => i % 2 === 0)
      .map((m) => request(m.payload.userId, m.payload.amount, m.payload.orderId));
    const shuffled = <T>(items: T[]) =>
      items
        .map((item) => ({ item, key: Math.random() }))
        .sort((a, b) => a.key - b.key)
        .map(({ item }) => item);

    // Three workers get every order (redeliveries), in their own orders, one of them the re-requests too;
    // the per-message path (the sweep, a fallback) takes the re-requests meanwhile, and users top up.
    const pools = [createSqlPool(url), createSqlPool(url), createSqlPool(url)];
    const groups: GroupEvent[] = [];
    try {
      const workers = pools.map((pool) =>
        createPaymentRequestBatcher({ db: pool, log, maxGroupSize: 16, onGroup: (e) => groups.push(e) }),
      );
      const settled = await Promise.allSettled([
        ...workers.flatMap((worker, i) =>
          shuffled(i === 0 ? [...orders, ...reRequests] : orders).map((m) =>
            worker.submit(structuredClone(m)),
          ),
        ),
        ...shuffled(reRequests).map((m) => receivePaymentRequest(db, structuredClone(m), log)),
        ...users.map((userId) => topUp(db, userId, 1_000)),
      ]);
      expect(settled.filter((s) => s.status === "rejected")).toEqual([]);
      expect(groups.filter((g) => g.error !== undefined)).toEqual([]);
      expect(groups.some((g) => g.size > 1)).toBe(true);
    } finally {
      await Promise.all(pools.map((pool) => pool.$disconnect()));
    }

    for (const userId of users) {
      const decided = await db.$queryRaw<{ amount: bigint; outcome: string }[]>`
        SELECT amount, outcome::text AS outcome FROM payment_decisions WHERE user_id = ${userId}::uuid`;
      expect(decided).toHaveLength(orders.length / users.length);
      const charged = decided
        .filter((d) => d.outcome === "SUCCEEDED")
        .reduce((s, d) => s + Number(d.amount), 0);
      const statement = await statementOf(userId);
      expect(await balanceOf(db, userId)).toBe(6_000 - charged);
      expect(statement.reduce((s, e) => s + e.amount, 0)).toBe(6_000 - charged);
      let running = 0;
      for (const entry of statement) expect(entry.balanceAfter).toBe((running += entry.amount));
    }
    for (const { payload } of orders) expect(await debitsFor(payload.orderId)).toBeLessThanOrEqual(1);
  });
});
