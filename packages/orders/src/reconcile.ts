import { toSafeNumber } from "@gozon/db/money";
import { buildMessage } from "@gozon/messaging/contracts";
import { writeOutbox } from "@gozon/messaging/outbox";
import type { TransactionalSqlClient } from "@gozon/messaging/sql";

/** Of these request message ids, the ones still waiting in the queue to be picked up. */
export type InFlightRequests = (messageIds: string[]) => Promise<Set<string>>;

export type ReconcileResult = { reRequested: number; stillQueued: number };

type StaleOrder = { id: string; user_id: string; amount: bigint; payment_request_id: string | null };

/**
 * Asks payments again for orders still NEW after `olderThanMs` whose request is no longer in the queue:
 * Redis lost it, or it was dead-lettered, or its result was lost. An order whose request is still queued
 * is only slow; asking again would add work to an overloaded system, so it is left alone and looked at
 * again after another `olderThanMs`. Safe to repeat: payments answers a request for an order it already
 * decided with the recorded result, and the ledger allows one debit per order.
 */
export async function reRequestStalePayments(
  db: TransactionalSqlClient,
  olderThanMs: number,
  inFlight: InFlightRequests,
  batch = 200,
): Promise<ReconcileResult> {
  const ageSeconds = olderThanMs / 1000;
  const candidates = await db.$queryRaw<Pick<StaleOrder, "id" | "payment_request_id">[]>`
    SELECT id::text, payment_request_id::text FROM orders
    WHERE status = 'NEW' AND payment_requested_at < now() - make_interval(secs => ${ageSeconds}::float8)
    ORDER BY payment_requested_at
    LIMIT ${batch}`;
  if (candidates.length === 0) return { reRequested: 0, stillQueued: 0 };
  // Asked before the transaction, so no row lock waits on Redis.
  const queued = await inFlight(candidates.flatMap((o) => o.payment_request_id ?? []));

  return db.$transaction(async (tx) => {
    // Locked and checked again: the order may have settled, or another worker may have taken it.
    const stale = await tx.$queryRaw<StaleOrder[]>`
      SELECT id::text, user_id::text, amount, payment_request_id::text FROM orders
      WHERE id = ANY(${candidates.map((o) => o.id)}::uuid[]) AND status = 'NEW'
        AND payment_requested_at < now() - make_interval(secs => ${ageSeconds}::float8)
      FOR UPDATE SKIP LOCKED`;
    // Every order looked at waits another `olderThanMs`; a re-requested one tracks its new request.
    const newRequestIds = new Map<string, string | null>();
    let stillQueued = 0;
    for (const order of stale) {
      if (order.payment_request_id && queued.has(order.payment_request_id)) {
        stillQueued++;
        newRequestIds.set(order.id, null);
        continue;
      }
      const request = buildMessage("PaymentRequested", {
        orderId: order.id,
        userId: order.user_id,
        amount: toSafeNumber(order.amount),
      });
      await writeOutbox(tx, request);
      newRequestIds.set(order.id, request.messageId);
    }
    if (stale.length > 0) {
      await tx.$executeRaw`
        UPDATE orders AS o
        SET payment_requested_at = now(), payment_request_id = coalesce(r.request_id, o.payment_request_id)
        FROM unnest(${[...newRequestIds.keys()]}::uuid[], ${[...newRequestIds.values()]}::uuid[])
          AS r(id, request_id)
        WHERE o.id = r.id`;
    }
    return { reRequested: stale.length - stillQueued, stillQueued };
  });
}
