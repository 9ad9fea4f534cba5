// Shared setup for the payments tests: a fresh payments database per test file, and ledger probes.
import { createLogger } from "@gozon/core/logger";
import { createPaymentsClient, type PaymentsClient } from "@gozon/db/clients";
import { createTestDatabases, type TestDatabases } from "@gozon/db/testing";

export const log = createLogger("payments-test", "silent");

export async function paymentsDatabase(label: string) {
  const dbs: TestDatabases = await createTestDatabases(label);
  const db = createPaymentsClient(dbs.urls.payments);
  return {
    db,
    close: async () => {
      await db.$disconnect();
      await dbs.drop();
    },
  };
}

export async function balanceOf(db: PaymentsClient, userId: string) {
  const [row] = await db.$queryRaw<{ balance: bigint }[]>`
    SELECT balance FROM accounts WHERE user_id = ${userId}::uuid`;
  return row ? Number(row.balance) : null;
}

export async function ledgerOf(db: PaymentsClient, userId: string) {
  const rows = await db.$queryRaw<{ kind: string; amount: bigint; orderId: string | null }[]>`
    SELECT kind::text AS kind, amount, order_id::text AS "orderId" FROM ledger_entries
    WHERE user_id = ${userId}::uuid ORDER BY id`;
  return rows.map((row) => ({ ...row, amount: Number(row.amount) }));
}

export async function count(
  db: PaymentsClient,
  table: "inbox" | "outbox" | "payment_decisions" | "ledger_entries",
) {
  // The table name comes from the union above, never from input.
  const [row] = await db.$queryRawUnsafe<{ n: bigint }[]>(`SELECT count(*) AS n FROM ${table}`);
  return Number(row!.n);
}
