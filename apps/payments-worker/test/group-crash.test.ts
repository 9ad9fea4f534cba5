// The worker process killed with SIGKILL inside a group commit's transaction, after the group's debits
// and before its decisions: nothing of the group is left half done, and after a restart every order is
// decided exactly once, with exact balances and ledgers.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { waitFor } from "@gozon/core/testing";
import { buildMessage } from "@gozon/messaging/contracts";
import { accountWith, balanceOf, createHarness, debitsFor, decisionFor, type Harness } from "./harness.ts";

let h: Harness;

beforeAll(async () => {
  h = await createHarness("pw-group-crash");
});

afterAll(async () => {
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
  const holding = h.db.$transaction(async (tx) => {
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

it("killed inside a group's transaction after its debits: after a restart, each order decided exactly once", async () => {
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
  // arrive and queue up behind it, to be the second group, the one killed (at the failpoint's 2nd hit).
  const first = request(rich, 1);
  const releaseLock = await holdOrderLock(first.payload.orderId);
  const doomed = h.startWorker({ GOZON_FAILPOINTS: "after-debits:2" });
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
  } finally {
    if (!released) await releaseLock();
  }
  expect(await doomed.exited).toBe("SIGKILL");
  expect(doomed.output()).toContain("failpoint after-debits: SIGKILL");

  // What the crash left: the first group committed; of the second, the stored entries and nothing else.
  expect(await decisionFor(h.db, first.payload.orderId)).toEqual({ outcome: "SUCCEEDED", reason: null });
  for (const message of group) {
    expect(await inboxEntry(message.messageId)).toEqual({ processed: false });
    expect(await decisionFor(h.db, message.payload.orderId)).toBeUndefined();
    expect(await debitsFor(h.db, message.payload.orderId)).toBe(0);
  }
  expect([await balanceOf(h.db, exact), await balanceOf(h.db, tight), await balanceOf(h.db, rich)]).toEqual([
    1_000, 1_000, 9_999,
  ]);

  const restarted = h.startWorker();
  try {
    await restarted.waitForOutput(/payments worker ready/);
    await waitFor(() => group.every((m) => h.resultsFor(m.payload.orderId).length > 0), {
      what: "a result for every order of the killed group",
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
