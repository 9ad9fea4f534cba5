// Reference (a): the same business effect as the saga — an order recorded and paid — done synchronously
// in one Postgres transaction, on a scratch database with the same tables, checks and indexes as the
// orders and payments services (orders; accounts with the balance CHECK; the append-only ledger with its
// unique debit per order). One transaction: insert the order, debit the balance only if it covers the
// amount (`WHERE balance >= amount`), append the ledger entry.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { dropDatabase, ensureDatabase } from "@gozon/db/databases";
import { uniqueTestDatabaseUrl } from "@gozon/db/testing";
import { random } from "@gozon/system-tests/load";
import { closedLoop, type LoopResult } from "./loop.ts";

const SCHEMA = `
CREATE TYPE "OrderStatus" AS ENUM ('NEW', 'FINISHED', 'CANCELLED');
CREATE TYPE "CancelReason" AS ENUM ('NO_ACCOUNT', 'INSUFFICIENT_FUNDS');
CREATE TYPE "LedgerKind" AS ENUM ('TOP_UP', 'ORDER_DEBIT');
CREATE TABLE orders (
  id UUID PRIMARY KEY,
  user_id UUID NOT NULL,
  amount BIGINT NOT NULL CHECK (amount BETWEEN 1 AND 1000000000),
  description TEXT NOT NULL CHECK (char_length(btrim(description)) BETWEEN 1 AND 500),
  status "OrderStatus" NOT NULL DEFAULT 'NEW',
  cancel_reason "CancelReason",
  payment_requested_at TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  created_at TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMPTZ(3) NOT NULL
);
CREATE INDEX ON orders (user_id, created_at DESC, id DESC);
CREATE INDEX ON orders (status, payment_requested_at);
CREATE TABLE accounts (
  user_id UUID PRIMARY KEY,
  balance BIGINT NOT NULL DEFAULT 0 CHECK (balance >= 0),
  created_at TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMPTZ(3) NOT NULL
);
CREATE TABLE ledger_entries (
  id BIGSERIAL PRIMARY KEY,
  user_id UUID NOT NULL REFERENCES accounts (user_id),
  kind "LedgerKind" NOT NULL,
  amount BIGINT NOT NULL,
  order_id UUID UNIQUE,
  created_at TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CHECK ((kind = 'TOP_UP' AND amount > 0 AND order_id IS NULL)
      OR (kind = 'ORDER_DEBIT' AND amount < 0 AND order_id IS NOT NULL))
);
CREATE INDEX ON ledger_entries (user_id);
`;

export type SyncReference = Awaited<ReturnType<typeof startSyncReference>>;

/** Creates the scratch database with `accounts` funded accounts; `close()` drops it. */
export async function startSyncReference(accounts: number, poolMax: number) {
  const url = uniqueTestDatabaseUrl("bench", "synctx");
  await ensureDatabase(url);
  const userIds = Array.from({ length: accounts }, () => randomUUID());
  const amount = random(7);
  let sequence = 0;
  try {
    const setup = new pg.Client({ connectionString: url });
    await setup.connect();
    try {
      await setup.query(SCHEMA);
      await setup.query(
        `INSERT INTO accounts (user_id, balance, updated_at) SELECT unnest($1::uuid[]), 1000000000, now()`,
        [userIds],
      );
      await setup.query(
        `INSERT INTO ledger_entries (user_id, kind, amount) SELECT unnest($1::uuid[]), 'TOP_UP', 1000000000`,
        [userIds],
      );
    } finally {
      await setup.end();
    }
  } catch (error) {
    await dropDatabase(url);
    throw error;
  }

  const payOrder = async (pool: pg.Pool, userId: string) => {
    const client = await pool.connect();
    try {
      const orderId = randomUUID();
      const minor = amount(100, 4_000);
      await client.query("BEGIN");
      await client.query(
        `INSERT INTO orders (id, user_id, amount, description, status, updated_at)
         VALUES ($1, $2, $3, $4, 'FINISHED', now())`,
        [orderId, userId, minor, `bench #${++sequence}`],
      );
      const debited = await client.query(
        `UPDATE accounts SET balance = balance - $2, updated_at = now()
         WHERE user_id = $1 AND balance >= $2`,
        [userId, minor],
      );
      if (debited.rowCount === 1) {
        await client.query(
          `INSERT INTO ledger_entries (user_id, kind, amount, order_id) VALUES ($1, 'ORDER_DEBIT', $2, $3)`,
          [userId, -minor, orderId],
        );
      } else {
        await client.query(
          `UPDATE orders SET status = 'CANCELLED', cancel_reason = 'INSUFFICIENT_FUNDS' WHERE id = $1`,
          [orderId],
        );
      }
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  };

  return {
    url,
    /** `concurrency` lanes (lane i pays from account i, as saga lane i is shopper i), pool of `poolMax`. */
    async run(concurrency: number, seconds: number): Promise<LoopResult> {
      const pool = new pg.Pool({ connectionString: url, max: Math.min(concurrency, poolMax) });
      try {
        // Open the connections first: the saga's services hold theirs open too.
        const clients = await Promise.all(
          Array.from({ length: Math.min(concurrency, poolMax) }, () => pool.connect()),
        );
        for (const client of clients) client.release();
        return await closedLoop(concurrency, seconds, (lane) =>
          payOrder(pool, userIds[lane % userIds.length] as string),
        );
      } finally {
        await pool.end();
      }
    },
    /** Checks the money adds up after the runs: balance == sum(ledger) for every account. */
    async audit(): Promise<string[]> {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const { rows } = await client.query<{ user_id: string }>(
          `SELECT a.user_id FROM accounts a
           JOIN (SELECT user_id, sum(amount) AS total FROM ledger_entries GROUP BY user_id) l USING (user_id)
           WHERE a.balance <> l.total`,
        );
        return rows.map((row) => `sync reference: account ${row.user_id} balance != sum(ledger)`);
      } finally {
        await client.end();
      }
    },
    close: () => dropDatabase(url),
  };
}
