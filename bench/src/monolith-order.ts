// The monolith reference's pure parts: the decision a debit makes, the order as the API returns it, and
// the 400's field messages.

export type DebitRow = { debited: boolean; hasAccount: boolean };

export type SettleStatus =
  { status: "FINISHED"; reason: null } | { status: "CANCELLED"; reason: "NO_ACCOUNT" | "INSUFFICIENT_FUNDS" };

/** As the saga decides it: paid → FINISHED; otherwise CANCELLED, for want of an account or of funds. */
export function settleStatus({ debited, hasAccount }: DebitRow): SettleStatus {
  if (debited) return { status: "FINISHED", reason: null };
  return { status: "CANCELLED", reason: hasAccount ? "INSUFFICIENT_FUNDS" : "NO_ACCOUNT" };
}

export type SettledRow = {
  id: string;
  user_id: string;
  /** BIGINT: pg hands it over as a string. */
  amount: string;
  description: string;
  status: string;
  cancel_reason: string | null;
  created_at: Date;
  updated_at: Date;
};

/** The order in the API's shape (orderSchema): money as an integer of minor units, ISO timestamps. */
export function orderFromRow(row: SettledRow) {
  const amount = Number(row.amount);
  if (!Number.isSafeInteger(amount)) throw new Error(`amount of order ${row.id} exceeds the safe range`);
  return {
    id: row.id,
    userId: row.user_id,
    amount,
    description: row.description,
    status: row.status,
    cancelReason: row.cancel_reason,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** zod issues → `{ field: message }`, the first message per field (`body` for the object itself). */
export function fieldErrors(
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>,
): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const issue of issues) {
    const field = issue.path.length ? issue.path.map(String).join(".") : "body";
    fields[field] ??= issue.message;
  }
  return fields;
}
