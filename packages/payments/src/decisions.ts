// Reading payment decisions: the admin's list of payments, newest first.
import { toSafeNumber } from "@gozon/db/money";
import type { FailureReason } from "@gozon/messaging/contracts";
import type { SqlClient } from "@gozon/messaging/sql";

export type PaymentOutcome = "SUCCEEDED" | "FAILED";

/** A decided payment as the API returns it: minor units, ISO time. */
export type PaymentDecisionDto = {
  orderId: string;
  userId: string;
  amount: number;
  outcome: PaymentOutcome;
  reason: FailureReason | null;
  decidedAt: string;
};

/** Where the previous page ended: its last decision's time and order id. */
export type DecisionPosition = { decidedAt: Date; orderId: string };

export type DecisionPage = { payments: PaymentDecisionDto[]; hasMore: boolean };

type DecisionRow = {
  order_id: string;
  user_id: string;
  amount: bigint;
  outcome: PaymentOutcome;
  reason: FailureReason | null;
  decided_at: Date;
};

/**
 * Decisions newest first (by decision time, then order id), optionally of one user and of one outcome,
 * `limit` of them after `before`. Each filter has an index that serves it in this order.
 */
export async function listDecisions(
  db: SqlClient,
  {
    userId,
    outcome,
    limit,
    before,
  }: {
    userId?: string | null;
    outcome?: PaymentOutcome | null;
    limit: number;
    before?: DecisionPosition | null;
  },
): Promise<DecisionPage> {
  // ORDER BY names the table's columns: bare names would mean the text columns selected, which no index
  // serves.
  const rows = await db.$queryRaw<DecisionRow[]>`
    SELECT order_id::text AS order_id, user_id::text AS user_id, amount, outcome::text AS outcome,
           reason::text AS reason, decided_at
    FROM payment_decisions AS d
    WHERE (${userId ?? null}::uuid IS NULL OR d.user_id = ${userId ?? null}::uuid)
      AND (${outcome ?? null}::"PaymentOutcome" IS NULL OR outcome = ${outcome ?? null}::"PaymentOutcome")
      AND (${before?.decidedAt ?? null}::timestamptz IS NULL
           OR (d.decided_at, d.order_id) < (${before?.decidedAt ?? null}::timestamptz, ${before?.orderId ?? null}::uuid))
    ORDER BY d.decided_at DESC, d.order_id DESC
    LIMIT ${limit + 1}`;
  return { payments: rows.slice(0, limit).map(toDecisionDto), hasMore: rows.length > limit };
}

function toDecisionDto(row: DecisionRow): PaymentDecisionDto {
  return {
    orderId: row.order_id,
    userId: row.user_id,
    amount: toSafeNumber(row.amount),
    outcome: row.outcome,
    reason: row.reason,
    decidedAt: row.decided_at.toISOString(),
  };
}
