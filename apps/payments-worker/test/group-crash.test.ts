// The worker process killed with SIGKILL while its group's statement runs in Postgres, after the group's
// inbox entries and some of its debits, before the rest of its decisions: nothing of the group is left,
// not even its entries, and after a restart (BullMQ gives the killed worker's jobs back) every order is
// decided exactly once, with exact balances and ledgers.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { waitFor } from "@gozon/core/testing";
import { createSqlPool, type SqlPool } from "@gozon/db/sql-client";
import { buildMessage } from "@gozon/messaging/contracts";
import { accountWith, balanceOf, createHarness, debitsFor, decisionFor, type Harness } from "./harness.ts";

let h: Harness;
// The held lock's and decision's sessions: their own pool, so that they stay idle in their transactions
// for as long as the test needs, past the default idle-in-transaction timeout on a slow machine.
let holder: SqlPool;

beforeAll(async () => {
  h = await createHarness("pw-group-crash");
  holder = createSqlPool(h.dbs.urls.payments, { statementTimeoutMs: 120_000 });
});

afterAll(async () => {
  await holder?.$disconnect();
  await h?.close();
});

const request = (userId: string, amount: number) =>
  buildMessage("PaymentRequested", { orderId: randomUUID(), userId, amount });

async function inboxEntry(messageId: string) {
  const [row] = await h.db.$queryRaw<{ processed: boolean }[]>`
    SELECT processed_at IS NOT NULL AS processed FROM inbox WHERE message_id = ${messageId}::uuid`;
  return row;
}

async function ledgerSum(userId: string) {
  const [row] = await h.db.$queryRaw<{ sum: bigint }[]>`
    SELECT coalesce(sum(amount), 0)::bigint AS sum FROM ledger_entries WHERE user_id = ${userId}::uuid`;
  return Number(row!.sum);
}

/** Someone else's transaction holding an order's lock, until `release`. */
async function holdOrderLock(orderId: string) {
  let release = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  let locked = () => {};
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const holding = holder.$transaction(async (tx) => {
    await tx.$queryRaw`SELECT pg_advisory_xact_lock(hashtextextended(${orderId}, 0))::text`;
    locked();
    await released;
  });
  await Promise.race([isLocked, holding]);
  return async () => {
    release();
    await holding;
  };
}

/**
 * Someone else's uncommitted decision for an order, until `release` rolls it back: a group that reaches
 * this order waits on it (the unique order id) in the middle of its statement, after its earlier debits.
 */
async function holdDecision(orderId: string, userId: string) {
  let release = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  let inserted = () => {};
  const isInserted = new Promise<void>((resolve) => (inserted = resolve));
  const holding = holder
    .$transaction(async (tx) => {
      await tx.$executeRaw`INSERT INTO payment_decisions (order_id, user_id, amount, outcome)
                           VALUES (${orderId}::uuid, ${userId}::uuid, 1, 'SUCCEEDED')`;
      inserted();
      await released;
      throw new Error("rolled back on purpose");
    })
    .catch((error: unknown) => {
      if (!(error instanceof Error && error.message === "rolled back on purpose")) throw error;
    });
  await Promise.race([isInserted, holding]);
  return async () => {
    release();
    await holding;
  };
}

/** Backends of this database running `receive_payments`, and whether each waits for a lock. */
async function decidingBackends() {
  return h.db.$queryRaw<{ pid: number; waiting: boolean }[]>`
    SELECT pid, wait_event_type = 'Lock' AS waiting FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'
      AND query LIKE '%FROM receive_payments(%'`;
}

it("killed while its group's statement runs, after some debits: after a restart, each order decided exactly once", async () => {
  // Outcomes that do not depend on the order the orders are decided in: `exact` can pay all of its
  // orders to the last kopeck, `tight` exactly one of its three, nobody has no account.
  const exact = await accountWith(h.db, 1_000);
  const tight = await accountWith(h.db, 1_000);
  const rich = await accountWith(h.db, 10_000);
  const group = [
    ...[100, 200, 300, 400].map((amount) => request(exact, amount)),
    ...[600, 600, 600].map((amount) => request(tight, amount)),
    ...[50, 60, 70].map((amount) => request(rich, amount)),
    request(randomUUID(), 10),
  ];

  // The worker's first group is one request whose order lock the test holds: while it waits, the others
  // arrive and queue up behind it, to be the second group, the one killed. That group stops at the order
  // whose decision the test holds, having locked the group's orders and accounts and charged the orders
  // it decided before that one.
  const first = request(rich, 1);
  const stopper = group[8]!;
  const releaseDecision = await holdDecision(stopper.payload.orderId, rich);
  const releaseLock = await holdOrderLock(first.payload.orderId);
  const doomed = h.startWorker();
  let released = false;
  try {
    await doomed.waitForOutput(/payments worker ready/);
    await h.send(first);
    await waitFor(
      async () => {
        const [row] = await h.db.$queryRaw<{ n: bigint }[]>`
          SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`;
        return row!.n > 0n;
      },
      { what: "the first group waiting for its order's lock" },
    );
    await Promise.all(group.map((message) => h.send(message)));
    await waitFor(
      async () => {
        const states = await Promise.all(group.map((m) => h.requests.getJobState(m.messageId)));
        return states.every((state) => state === "active");
      },
      { what: "every request of the group in the worker's hands" },
    );
    released = true;
    await releaseLock();
    await waitFor(async () => (await decidingBackends()).some((backend) => backend.waiting), {
      what: "the second group waiting for the held decision",
    });
    expect(await doomed.stop("SIGKILL")).toBe("SIGKILL");
    // Postgres notices its client gone (client_connection_check_interval) and rolls the statement back.
    await waitFor(async () => (await decidingBackends()).length === 0, {
      what: "the killed worker's statement cancelled",
    });
  } finally {
    if (!released) await releaseLock();
    await releaseDecision();
  }

  // What the crash left: the first group committed; of the second, nothing.
  expect(await decisionFor(h.db, first.payload.orderId)).toEqual({ outcome: "SUCCEEDED", reason: null });
  for (const message of group) {
    expect(await inboxEntry(message.messageId)).toBeUndefined();
    expect(await decisionFor(h.db, message.payload.orderId)).toBeUndefined();
    expect(await debitsFor(h.db, message.payload.orderId)).toBe(0);
  }
  expect([await balanceOf(h.db, exact), await balanceOf(h.db, tight), await balanceOf(h.db, rich)]).toEqual([
    1_000, 1_000, 9_999,
  ]);

  const restarted = h.startWorker();
  try {
    await restarted.waitForOutput(/payments worker ready/);
    // BullMQ gives the jobs back once their lock lapses (consumerOptions: within 10–15 s).
    await waitFor(() => group.every((m) => h.resultsFor(m.payload.orderId).length > 0), {
      what: "a result for every order of the killed group",
      timeoutMs: 60_000,
    });
    for (const message of group) {
      const { orderId } = message.payload;
      const decision = await decisionFor(h.db, orderId);
      const [result, ...more] = h.resultsFor(orderId);
      expect(more).toEqual([]);
      expect(result).toMatchObject(
        decision?.outcome === "SUCCEEDED"
          ? { type: "PaymentSucceeded", payload: message.payload }
          : { type: "PaymentFailed", payload: { ...message.payload, reason: decision?.reason } },
      );
      expect(await debitsFor(h.db, orderId)).toBe(decision?.outcome === "SUCCEEDED" ? 1 : 0);
      expect(await inboxEntry(message.messageId)).toEqual({ processed: true });
    }
    const outcomes = await Promise.all(group.map((m) => decisionFor(h.db, m.payload.orderId)));
    expect(outcomes.slice(0, 4).every((d) => d?.outcome === "SUCCEEDED")).toBe(true);
    expect(
      outcomes
        .slice(4, 7)
        .map((d) => d?.reason ?? "SUCCEEDED")
        .sort(),
    ).toEqual(["INSUFFICIENT_FUNDS", "INSUFFICIENT_FUNDS", "SUCCEEDED"]);
    expect(outcomes.slice(7, 10).every((d) => d?.outcome === "SUCCEEDED")).toBe(true);
    expect(outcomes[10]).toEqual({ outcome: "FAILED", reason: "NO_ACCOUNT" });
    for (const [userId, balance] of [
      [exact, 0],
      [tight, 400],
      [rich, 10_000 - 1 - 50 - 60 - 70],
    ] as const) {
      expect(await balanceOf(h.db, userId)).toBe(balance);
      expect(await ledgerSum(userId)).toBe(balance);
    }
  } finally {
    expect(await restarted.stop()).toBe(0);
  }
});
