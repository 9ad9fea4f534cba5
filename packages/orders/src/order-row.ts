import type { Order } from "@gozon/db/generated/orders/client";

/** An `orders` row as raw SQL returns it (`SELECT *` / `RETURNING *`). */
export type OrderRow = {
  id: string;
  user_id: string;
  amount: bigint;
  description: string;
  status: Order["status"];
  cancel_reason: Order["cancelReason"];
  payment_requested_at: Date;
  payment_request_id: string | null;
  reconcile_attempts: number;
  next_reconcile_at: Date;
  created_at: Date;
  updated_at: Date;
};

/** The row under the names of the Prisma model, which the rest of the code speaks. */
export function orderFromRow(row: OrderRow): Order {
  return {
    id: row.id,
    userId: row.user_id,
    amount: row.amount,
    description: row.description,
    status: row.status,
    cancelReason: row.cancel_reason,
    paymentRequestedAt: row.payment_requested_at,
    paymentRequestId: row.payment_request_id,
    reconcileAttempts: row.reconcile_attempts,
    nextReconcileAt: row.next_reconcile_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
