// The payment processor through its real functions, against a real Postgres.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capturingLogger } from "@gozon/core/testing";
import type { SqlPool } from "@gozon/db/sql-client";
import type { PaymentRequested } from "@gozon/messaging/contracts";
import { processInboxEntries } from "../src/decide-entries.ts";
import { topUp } from "../src/accounts.ts";
import { processPendingInbox, purgeInbox } from "../src/inbox.ts";
import { processInboxEntry, receivePaymentRequest } from "../src/process-payment.ts";
import { storeInbox } from "../test-support/testing.ts";
import { balanceOf, ledgerOf, log, paymentsDatabase, request } from "./helpers.ts";
import * as helpers from "./helpers.ts";

let db: SqlPool;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ db, close } = await paymentsDatabase("process"));
});
afterAll(async () => {
  await close?.();
});

const accountWith = (balance: number) => helpers.accountWith(db, balance);

const resultsFor = (orderId: string) => helpers.outboxResultsFor(db, orderId);

async function decisionsFor(orderId: string) {
  return db.$queryRaw<{ outcome: string; reason: string | null }[]>`
    SELECT outcome::text AS outcome, reason::text AS reason FROM payment_decisions WHERE order_id = ${orderId}::uuid`;
}

describe("deciding a payment", () => {
  it("charges the account once when it can pay: ledger debit, balance, decision and PaymentSucceeded", async () => {
    const userId = await accountWith(1000);
    const message = request(userId, 400);
    const { stored, outcome } = await receivePaymentRequest(db, message, log);
    expect(stored).toBe(true);
    expect(outcome).toMatchObject({ status: "decided", result: { type: "PaymentSucceeded" } });
    expect(await balanceOf(db, userId)).toBe(600);
    expect((await ledgerOf(db, userId)).at(-1)).toEqual({
      kind: "ORDER_DEBIT",
      amount: -400,
      orderId: message.payload.orderId,
    });
    expect(await decisionsFor(message.payload.orderId)).toEqual([{ outcome: "SUCCEEDED", reason: null }]);
    const [result] = await resultsFor(message.payload.orderId);
    expect(result).toMatchObject({ type: "PaymentSucceeded", payload: message.payload });
  });

  it("can spend the balance down to exactly zero", async () => {
    const userId = await accountWith(250);
    const { outcome } = await receivePaymentRequest(db, request(userId, 250), log);
    expect(outcome).toMatchObject({ status: "decided", result: { type: "PaymentSucceeded" } });
    expect(await balanceOf(db, userId)).toBe(0);
  });

  it("fails with NO_ACCOUNT when the user has no account", async () => {
    const message = request(randomUUID(), 100);
    const { outcome } = await receivePaymentRequest(db, message, log);
    expect(outcome).toMatchObject({
      status: "decided",
      result: { type: "PaymentFailed", payload: { ...message.payload, reason: "NO_ACCOUNT" } },
    });
    expect(await decisionsFor(message.payload.orderId)).toEqual([
      { outcome: "FAILED", reason: "NO_ACCOUNT" },
    ]);
  });

  it("fails with INSUFFICIENT_FUNDS, leaving the balance and the ledger untouched", async () => {
    const userId = await accountWith(99);
    const ledgerBefore = await ledgerOf(db, userId);
    const message = request(userId, 100);
    const { outcome } = await receivePaymentRequest(db, message, log);
    expect(outcome).toMatchObject({
      status: "decided",
      result: { type: "PaymentFailed", payload: { reason: "INSUFFICIENT_FUNDS" } },
    });
    expect(await balanceOf(db, userId)).toBe(99);
    expect(await ledgerOf(db, userId)).toEqual(ledgerBefore);
    expect(await decisionsFor(message.payload.orderId)).toEqual([
      { outcome: "FAILED", reason: "INSUFFICIENT_FUNDS" },
    ]);
  });
});

describe("duplicates and repeats", () => {
  it("the same PaymentRequested delivered 50 times (concurrently, then one after another) debits once", async () => {
    const userId = await accountWith(10_000);
    const message = request(userId, 300);
    const concurrent = await Promise.all(
      Array.from({ length: 25 }, () => receivePaymentRequest(db, structuredClone(message), log)),
    );
    const sequential = [];
    for (let i = 0; i < 25; i++)
      sequential.push(await receivePaymentRequest(db, structuredClone(message), log));
    const all = [...concurrent, ...sequential];

    expect(all.filter((r) => r.stored)).toHaveLength(1);
    expect(all.filter((r) => r.outcome.status === "decided")).toHaveLength(1);
    expect(all.filter((r) => r.outcome.status === "already-processed")).toHaveLength(49);
    expect(await balanceOf(db, userId)).toBe(9_700);
    expect((await ledgerOf(db, userId)).filter((e) => e.kind === "ORDER_DEBIT")).toHaveLength(1);
    expect(await decisionsFor(message.payload.orderId)).toHaveLength(1);
    expect(await resultsFor(message.payload.orderId)).toHaveLength(1);
  });

  it("50 repeated requests for one order (new message ids, as a reconciler sends) debit once and each re-sends the recorded result", async () => {
    const userId = await accountWith(10_000);
    const orderId = randomUUID();
    const concurrent = await Promise.all(
      Array.from({ length: 25 }, () => receivePaymentRequest(db, request(userId, 300, orderId), log)),
    );
    const sequential = [];
    for (let i = 0; i < 25; i++)
      sequential.push(await receivePaymentRequest(db, request(userId, 300, orderId), log));
    const outcomes = [...concurrent, ...sequential].map((r) => r.outcome);

    expect(outcomes.filter((o) => o.status === "decided")).toHaveLength(1);
    expect(outcomes.filter((o) => o.status === "resent")).toHaveLength(49);
    expect(await balanceOf(db, userId)).toBe(9_700);
    expect((await ledgerOf(db, userId)).filter((e) => e.kind === "ORDER_DEBIT")).toHaveLength(1);
    expect(await decisionsFor(orderId)).toHaveLength(1);
    const results = await resultsFor(orderId);
    expect(results).toHaveLength(50);
    expect(new Set(results.map((r) => r.messageId)).size).toBe(50);
    expect(results.every((r) => r.type === "PaymentSucceeded" && r.payload.amount === 300)).toBe(true);
  });

  it("never re-decides: a failed order stays failed after the account is funded", async () => {
    const userId = await accountWith(0);
    const orderId = randomUUID();
    await receivePaymentRequest(db, request(userId, 500, orderId), log);
    await topUp(db, userId, 1_000);
    const { outcome } = await receivePaymentRequest(db, request(userId, 500, orderId), log);
    expect(outcome).toMatchObject({
      status: "resent",
      result: { type: "PaymentFailed", payload: { reason: "INSUFFICIENT_FUNDS" } },
    });
    expect(await balanceOf(db, userId)).toBe(1_000);
  });
});

/** The warnings and errors a capturing logger heard, by level name and message. */
function listeningLog() {
  const { log: logger, lines } = capturingLogger();
  const names: Record<number, string> = { 40: "warn", 50: "error" };
  return {
    log: logger,
    heard: () =>
      lines.filter((l) => Number(l.level) >= 40).map((l) => ({ level: names[Number(l.level)], msg: l.msg })),
  };
}

describe("entries the request does not explain", () => {
  it("a repeated request that differs from the decided one gets the decided result, and a warning", async () => {
    const userId = await accountWith(1_000);
    const orderId = randomUUID();
    await receivePaymentRequest(db, request(userId, 300, orderId), log);
    const listening = listeningLog();
    const { outcome } = await receivePaymentRequest(db, request(randomUUID(), 700, orderId), listening.log);
    expect(outcome).toMatchObject({
      status: "resent",
      result: { type: "PaymentSucceeded", payload: { orderId, userId, amount: 300 } },
    });
    expect(listening.heard()).toEqual([
      { level: "warn", msg: "repeated request differs from the decided one" },
    ]);
    expect(await balanceOf(db, userId)).toBe(700);
  });

  it("a hand-edited entry the contract rejects is marked processed and skipped; its group's others are decided", async () => {
    const userId = await accountWith(1_000);
    const valid = request(userId, 100);
    const { payload } = valid;
    const edited = [
      { ...payload, amount: "100" },
      { ...payload, amount: 1.5 },
      { ...payload, amount: 0 },
      { ...payload, amount: 1_000_000_001 },
      { ...payload, orderId: "not-a-uuid" },
      { ...payload, userId: null },
    ].map((bad) => ({ ...request(userId, 1), payload: bad }));
    const wrongType = { ...request(userId, 1), type: "PaymentSucceeded" };
    const wrongVersion = { ...request(userId, 1), version: 2 };
    const invalid = [...edited, wrongType, wrongVersion];
    await storeInbox(db, valid);
    for (const message of invalid)
      await db.$executeRaw`INSERT INTO inbox (message_id, type, payload)
                           VALUES (${message.messageId}::uuid, 'PaymentRequested', ${JSON.stringify(message)}::jsonb)`;

    const listening = listeningLog();
    const ids = [...invalid, valid].map((m) => m.messageId);
    const outcomes = await processInboxEntries(db, ids, listening.log);
    for (const message of invalid)
      expect(outcomes.get(message.messageId)).toEqual({ status: "already-processed" });
    expect(outcomes.get(valid.messageId)).toMatchObject({ status: "decided", result: { payload } });
    expect(listening.heard()).toEqual(
      invalid.map(() => ({ level: "error", msg: "invalid inbox entry skipped" })),
    );
    const unprocessed = await db.$queryRaw<{ n: bigint }[]>`
      SELECT count(*) AS n FROM inbox WHERE message_id = ANY(${ids}::uuid[]) AND processed_at IS NULL`;
    expect(unprocessed[0]!.n).toBe(0n);
    expect(await balanceOf(db, userId)).toBe(900);
    const [results] = await db.$queryRaw<{ n: bigint }[]>`
      SELECT count(*) AS n FROM outbox WHERE payload->'payload'->>'userId' = ${userId}`;
    expect(results!.n).toBe(1n);
  });
});

describe("inbox upkeep", () => {
  it("the sweep finishes entries stored but never processed (left by a worker that stored, then decided)", async () => {
    const userId = await accountWith(1_000);
    const stranded: PaymentRequested[] = [request(userId, 100), request(userId, 200)];
    for (const message of stranded) expect(await storeInbox(db, message)).toBe(true);
    expect(await processPendingInbox(db, log, { olderThanMs: 60_000 })).toBe(0); // too young yet
    expect(await processPendingInbox(db, log, { olderThanMs: 0 })).toBeGreaterThanOrEqual(2);
    expect(await balanceOf(db, userId)).toBe(700);
    for (const message of stranded) {
      expect(await processInboxEntry(db, message.messageId, log)).toEqual({ status: "already-processed" });
    }
  });

  it("purges processed entries older than the retention, never unprocessed ones", async () => {
    const userId = await accountWith(1_000);
    const old = request(userId, 1);
    const recent = request(userId, 1);
    const unprocessed = request(userId, 1);
    await receivePaymentRequest(db, old, log);
    await receivePaymentRequest(db, recent, log);
    await storeInbox(db, unprocessed);
    await db.$executeRaw`UPDATE inbox SET processed_at = now() - interval '8 days', received_at = now() - interval '8 days'
                         WHERE message_id = ${old.messageId}::uuid`;
    await db.$executeRaw`UPDATE inbox SET received_at = now() - interval '30 days' WHERE message_id = ${unprocessed.messageId}::uuid`;
    expect(await purgeInbox(db, 7, 1)).toBe(1);
    const left = await db.$queryRaw<{ id: string }[]>`
      SELECT message_id::text AS id FROM inbox WHERE message_id = ANY(${[old, recent, unprocessed].map((m) => m.messageId)}::uuid[])`;
    expect(new Set(left.map((row) => row.id))).toEqual(new Set([recent.messageId, unprocessed.messageId]));
  });
});
