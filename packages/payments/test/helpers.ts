// Shared setup for the payments tests: a fresh payments database per test file, and ledger probes.
import { randomUUID } from "node:crypto";
import { expect } from "vitest";
import { createLogger } from "@gozon/core/logger";
import { createSqlPool, type SqlPool } from "@gozon/db/sql-client";
import { createTestDatabases, type TestDatabases } from "@gozon/db/testing";
import { buildMessage, parseMessage } from "@gozon/messaging/contracts";
import { createAccount, topUp } from "../src/accounts.ts";

export const log = createLogger("payments-test", "silent");

export async function paymentsDatabase(label: string) {
  const dbs: TestDatabases = await createTestDatabases(label);
  // The client the payments worker runs with.
  const db = createSqlPool(dbs.urls.payments);
  return {
    db,
    url: dbs.urls.payments,
    close: async () => {
      await db.$disconnect();
      await dbs.drop();
    },
  };
}

export async function balanceOf(db: SqlPool, userId: string) {
  const [row] = await db.$queryRaw<{ balance: bigint }[]>`
    SELECT balance FROM accounts WHERE user_id = ${userId}::uuid`;
  return row ? Number(row.balance) : null;
}

export async function ledgerOf(db: SqlPool, userId: string) {
  const rows = await db.$queryRaw<{ kind: string; amount: bigint; orderId: string | null }[]>`
    SELECT kind::text AS kind, amount, order_id::text AS "orderId" FROM ledger_entries
    WHERE user_id = ${userId}::uuid ORDER BY id`;
  return rows.map((row) => ({ ...row, amount: Number(row.amount) }));
}

const COUNTS = {
  inbox: (db: SqlPool) => db.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM inbox`,
  outbox: (db: SqlPool) => db.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM outbox`,
  payment_decisions: (db: SqlPool) =>
    db.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM payment_decisions`,
  ledger_entries: (db: SqlPool) => db.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM ledger_entries`,
};

export async function count(db: SqlPool, table: keyof typeof COUNTS) {
  const [row] = await COUNTS[table](db);
  return Number(row!.n);
}

/** Result messages written to the outbox for an order, oldest first. */
export async function outboxResultsFor(db: SqlPool, orderId: string) {
  const rows = await db.$queryRaw<{ queue: string; payload: unknown }[]>`
    SELECT queue, payload FROM outbox WHERE payload->'payload'->>'orderId' = ${orderId} ORDER BY created_at`;
  return rows.map((row) => {
    const parsed = parseMessage(row.payload, ["PaymentSucceeded", "PaymentFailed"]);
    if (!parsed.ok) throw new Error(parsed.error);
    expect(row.queue).toBe("orders.payment-results");
    return parsed.message;
  });
}

/** A new user's account holding `balance`. */
export async function accountWith(db: SqlPool, balance: number) {
  const userId = randomUUID();
  await createAccount(db, userId);
  if (balance > 0) await topUp(db, userId, balance);
  return userId;
}

/** A payment request (a new order unless `orderId` is given). */
export const request = (userId: string, amount: number, orderId: string = randomUUID()) =>
  buildMessage("PaymentRequested", { orderId, userId, amount });
