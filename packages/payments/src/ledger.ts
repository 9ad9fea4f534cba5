// Reading the ledger: a user's statement, newest first, each entry with the balance right after it.
import { toSafeNumber } from "@gozon/db/money";
import type { SqlClient } from "@gozon/messaging/sql";

export type LedgerKind = "TOP_UP" | "ORDER_DEBIT";

/** A ledger entry as the API returns it: signed minor units (a debit is negative), ISO time. */
export type LedgerEntryDto = {
  id: string;
  kind: LedgerKind;
  amount: number;
  balanceAfter: number;
  orderId: string | null;
  createdAt: string;
};

export type LedgerPage = {
  entries: LedgerEntryDto[];
  hasMore: boolean;
  /** `beforeId` is not one of the user's entries (the page is then empty): the caller's input is wrong. */
  unknownCursor: boolean;
};

type LedgerRow = {
  id: bigint;
  kind: LedgerKind;
  amount: bigint;
  balance_after: bigint;
  order_id: string | null;
  created_at: Date;
};

/**
 * The user's entries newest first, `limit` of them, older than entry `beforeId` when given. Ids of one
 * account follow the order in which its balance changed, so paging by id never skips or repeats an entry,
 * and entries written meanwhile only ever appear above the first page. `beforeId` must be one of the
 * user's own entries: another's (or none) gives an empty page, never a page cut somewhere else.
 */
export async function ledgerPage(
  db: SqlClient,
  userId: string,
  { limit, beforeId }: { limit: number; beforeId?: bigint | null },
): Promise<LedgerPage> {
  const rows = await db.$queryRaw<LedgerRow[]>`
    SELECT id, kind::text AS kind, amount, balance_after, order_id::text AS order_id, created_at
    FROM ledger_entries
    WHERE user_id = ${userId}::uuid AND (${beforeId ?? null}::bigint IS NULL OR id < (
      SELECT id FROM ledger_entries WHERE id = ${beforeId ?? null}::bigint AND user_id = ${userId}::uuid))
    ORDER BY id DESC
    LIMIT ${limit + 1}`;
  // A cursor handed out always had an older entry after it, so only an empty page can have a cursor that
  // is not the user's; only then is it looked up, by primary key.
  const unknownCursor =
    beforeId != null &&
    rows.length === 0 &&
    (
      await db.$queryRaw<unknown[]>`
        SELECT 1 FROM ledger_entries WHERE id = ${beforeId}::bigint AND user_id = ${userId}::uuid`
    ).length === 0;
  return { entries: rows.slice(0, limit).map(toLedgerEntryDto), hasMore: rows.length > limit, unknownCursor };
}

function toLedgerEntryDto(row: LedgerRow): LedgerEntryDto {
  return {
    id: row.id.toString(),
    kind: row.kind,
    amount: toSafeNumber(row.amount),
    balanceAfter: toSafeNumber(row.balance_after),
    orderId: row.order_id,
    createdAt: row.created_at.toISOString(),
  };
}
