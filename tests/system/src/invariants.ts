// The auditor: reads both service databases directly (only tests may) and lists every broken guarantee.
import type { Queue } from "bullmq";
import pg from "pg";
import type { ServiceDatabaseUrls } from "@gozon/core/config";

export type Audit = {
  orders: { total: number; NEW: number; FINISHED: number; CANCELLED: number };
  cancelled: { NO_ACCOUNT: number; INSUFFICIENT_FUNDS: number };
  debits: number;
  violations: string[];
};

async function query<T>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

export async function countOrders(urls: ServiceDatabaseUrls) {
  const rows = await query<{ status: string; n: string }>(
    urls.orders,
    "SELECT status, count(*) AS n FROM orders GROUP BY status",
  );
  const by = Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  return { NEW: by.NEW ?? 0, FINISHED: by.FINISHED ?? 0, CANCELLED: by.CANCELLED ?? 0 };
}

/** True when none of `queues` holds a job waiting, in hand, delayed or prioritized. */
export async function queuesDrained(queues: Iterable<Queue>) {
  for (const queue of queues) {
    const counts = await queue.getJobCounts("waiting", "active", "delayed", "prioritized");
    if (Object.values(counts).some((n) => n > 0)) return false;
  }
  return true;
}

export async function audit(urls: ServiceDatabaseUrls): Promise<Audit> {
  const [orders, accounts, ledger] = await Promise.all([
    query<{ id: string; user_id: string; amount: string; status: string; cancel_reason: string | null }>(
      urls.orders,
      "SELECT id, user_id, amount, status, cancel_reason FROM orders",
    ),
    query<{ user_id: string; balance: string }>(urls.payments, "SELECT user_id, balance FROM accounts"),
    query<{ user_id: string; kind: string; amount: string; order_id: string | null }>(
      urls.payments,
      "SELECT user_id, kind, amount, order_id FROM ledger_entries",
    ),
  ]);
  const violations: string[] = [];
  const debitsByOrder = new Map<string, bigint[]>();
  const ledgerSum = new Map<string, bigint>();
  const topUps = new Map<string, bigint>();
  for (const entry of ledger) {
    const amount = BigInt(entry.amount);
    ledgerSum.set(entry.user_id, (ledgerSum.get(entry.user_id) ?? 0n) + amount);
    if (entry.kind === "TOP_UP") topUps.set(entry.user_id, (topUps.get(entry.user_id) ?? 0n) + amount);
    if (entry.kind === "ORDER_DEBIT" && entry.order_id) {
      debitsByOrder.set(entry.order_id, [...(debitsByOrder.get(entry.order_id) ?? []), amount]);
    }
  }
  const hasAccount = new Set(accounts.map((a) => a.user_id));
  const finishedSum = new Map<string, bigint>();
  const counts = { total: orders.length, NEW: 0, FINISHED: 0, CANCELLED: 0 };
  const cancelled = { NO_ACCOUNT: 0, INSUFFICIENT_FUNDS: 0 };

  for (const order of orders) {
    counts[order.status as "NEW"]++;
    const debits = debitsByOrder.get(order.id) ?? [];
    debitsByOrder.delete(order.id);
    if (debits.length > 1) violations.push(`order ${order.id} has ${debits.length} debits`);
    if (order.status === "NEW") violations.push(`order ${order.id} is still NEW`);
    if (order.status === "FINISHED") {
      finishedSum.set(order.user_id, (finishedSum.get(order.user_id) ?? 0n) + BigInt(order.amount));
      if (debits.length !== 1 || debits[0] !== -BigInt(order.amount)) {
        violations.push(
          `FINISHED order ${order.id} has debits [${debits.join(", ")}] for amount ${order.amount}`,
        );
      }
    }
    if (order.status === "CANCELLED") {
      cancelled[order.cancel_reason as "NO_ACCOUNT"]++;
      if (debits.length > 0) violations.push(`CANCELLED order ${order.id} was charged`);
      if (order.cancel_reason === "NO_ACCOUNT" && hasAccount.has(order.user_id)) {
        violations.push(`order ${order.id} cancelled NO_ACCOUNT but the user has an account`);
      }
      if (order.cancel_reason === "INSUFFICIENT_FUNDS" && !hasAccount.has(order.user_id)) {
        violations.push(`order ${order.id} cancelled INSUFFICIENT_FUNDS but the user has no account`);
      }
    }
  }
  for (const orderId of debitsByOrder.keys()) violations.push(`debit for unknown order ${orderId}`);
  for (const account of accounts) {
    const balance = BigInt(account.balance);
    const expected = (topUps.get(account.user_id) ?? 0n) - (finishedSum.get(account.user_id) ?? 0n);
    if (balance < 0n) violations.push(`account ${account.user_id} is negative: ${balance}`);
    if (balance !== (ledgerSum.get(account.user_id) ?? 0n)) {
      violations.push(
        `account ${account.user_id}: balance ${balance} != sum(ledger) ${ledgerSum.get(account.user_id)}`,
      );
    }
    if (balance !== expected) {
      violations.push(`account ${account.user_id}: balance ${balance} != top-ups − FINISHED = ${expected}`);
    }
  }
  const debits = ledger.filter((e) => e.kind === "ORDER_DEBIT").length;
  if (debits !== counts.FINISHED) violations.push(`${debits} debits but ${counts.FINISHED} FINISHED orders`);
  return { orders: counts, cancelled, debits, violations };
}
