import { toSafeNumber } from "@gozon/db/money";
import { buildMessage } from "@gozon/messaging/contracts";
import { writeOutbox } from "@gozon/messaging/outbox";
import type { TransactionalSqlClient } from "@gozon/messaging/sql";

/**
 * Of these request message ids, the ones not lost: still waiting in the queue, or taken or answered so
 * recently that the result may be on its way.
 */
export type InFlightRequests = (messageIds: string[]) => Promise<Set<string>>;

/** Orders whose payment result is in the results queue, not yet settled. */
export type PendingResults = () => Promise<Set<string>>;

/** What the reconciler asks the queues. */
export type PaymentPipeline = {
  /** Jobs waiting (or delayed) in the payment-requests and payment-results queues together. */
  backlog(): Promise<number>;
  queuedRequests: InFlightRequests;
  pendingResults: PendingResults;
};

export type ReconcileResult = { reRequested: number; stillQueued: number };

export type StaleOrderOptions = {
  /** Orders looked at in one pass. */
  batch?: number;
  /** Asked only when there are candidates; an order whose result is pending is only slow. */
  pendingResults?: PendingResults;
  /** The longest wait between two looks at one order (never below `olderThanMs`). */
  maxBackoffMs?: number;
};

type StaleOrder = {
  id: string;
  user_id: string;
  amount: bigint;
  payment_request_id: string | null;
};

/**
 * Asks payments again for orders still NEW whose request went out more than `olderThanMs` ago and is no
 * longer in the queue: Redis lost it, or it was dead-lettered, or its result was lost. Left alone:
 * - an order whose request row is still unsent in the outbox, or was sent less than `olderThanMs` ago:
 *   while Redis or the relay was away nothing was lost, and the age counts from the publish;
 * - an order whose request or result is in flight (see `InFlightRequests`, `PendingResults`): the
 *   system is only slow, and asking again would add work to it;
 * - an order in its backoff: after its first re-request it is looked at again `olderThanMs` later,
 *   after each further one twice as long as before, up to `maxBackoffMs`; an order that stays NEW for
 *   long (payments down) costs a handful of messages, not one per pass. An order found in flight is
 *   looked at again after `olderThanMs`.
 * Safe to repeat: payments answers a request for an order it already decided with the recorded result,
 * and the ledger allows one debit per order.
 */
export async function reRequestStalePayments(
  db: TransactionalSqlClient,
  olderThanMs: number,
  inFlight: InFlightRequests,
  { batch = 200, maxBackoffMs = 5 * 60_000, pendingResults }: StaleOrderOptions = {},
): Promise<ReconcileResult> {
  const ageSeconds = olderThanMs / 1000;
  const maxBackoffSeconds = Math.max(olderThanMs, maxBackoffMs) / 1000;
  // Served by the (status, next_reconcile_at) index; orders in their backoff are outside its range.
  const candidates = await db.$queryRaw<Pick<StaleOrder, "id" | "payment_request_id">[]>`
    SELECT o.id::text, o.payment_request_id::text FROM orders AS o
    WHERE o.status = 'NEW' AND o.next_reconcile_at <= now()
      AND o.payment_requested_at < now() - make_interval(secs => ${ageSeconds}::float8)
      AND NOT EXISTS (
        SELECT 1 FROM outbox AS r
        WHERE r.id = o.payment_request_id
          AND (r.sent_at IS NULL OR r.sent_at > now() - make_interval(secs => ${ageSeconds}::float8)))
    ORDER BY o.next_reconcile_at
    LIMIT ${batch}`;
  if (candidates.length === 0) return { reRequested: 0, stillQueued: 0 };
  // Asked before the transaction, so no row lock waits on Redis.
  const [queued, settling] = await Promise.all([
    inFlight(candidates.flatMap((o) => o.payment_request_id ?? [])),
    pendingResults?.() ?? new Set<string>(),
  ]);

  return db.$transaction(async (tx) => {
    // Locked and checked again: the order may have settled, or another worker may have taken it (and
    // moved its next look on).
    const stale = await tx.$queryRaw<StaleOrder[]>`
      SELECT id::text, user_id::text, amount, payment_request_id::text FROM orders
      WHERE id = ANY(${candidates.map((o) => o.id)}::uuid[]) AND status = 'NEW'
        AND next_reconcile_at <= now()
      FOR UPDATE SKIP LOCKED`;
    const newRequestIds = new Map<string, string | null>();
    let stillQueued = 0;
    for (const order of stale) {
      if ((order.payment_request_id && queued.has(order.payment_request_id)) || settling.has(order.id)) {
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
      // A re-request doubles the wait before the next look (the exponent capped only so power() cannot
      // overflow); an order found in flight is looked at again after the age, its attempts unchanged.
      // Both are stamped with clock_timestamp(), the time of writing, not now(), the transaction's start: a
      // pass that waited on a lock for longer than the age would otherwise commit its orders already due,
      // and another worker's pass that found them as candidates before this commit would re-request them.
      await tx.$executeRaw`
        UPDATE orders AS o
        SET reconcile_attempts = o.reconcile_attempts + (r.request_id IS NOT NULL)::int,
            next_reconcile_at = clock_timestamp() + make_interval(secs => CASE WHEN r.request_id IS NULL
              THEN ${ageSeconds}::float8
              ELSE least(${ageSeconds}::float8 * power(2, least(o.reconcile_attempts, 40)), ${maxBackoffSeconds}::float8)
            END),
            payment_requested_at = CASE WHEN r.request_id IS NULL THEN o.payment_requested_at ELSE clock_timestamp() END,
            payment_request_id = coalesce(r.request_id, o.payment_request_id)
        FROM unnest(${[...newRequestIds.keys()]}::uuid[], ${[...newRequestIds.values()]}::uuid[])
          AS r(id, request_id)
        WHERE o.id = r.id`;
    }
    return { reRequested: stale.length - stillQueued, stillQueued };
  });
}

export type ReconcilerOptions = Omit<StaleOrderOptions, "pendingResults"> & {
  db: TransactionalSqlClient;
  /** RECONCILE_AFTER_MS: how long a sent request may go unanswered before the order is looked at. */
  olderThanMs: number;
  pipeline: PaymentPipeline;
  /**
   * Waiting jobs (both queues together) from which the reconciler holds back. Far above what a healthy
   * system keeps waiting (at most the orders in flight); a backlog that deep is draining, and every NEW
   * order behind it would look lost. Below it, the orders in the queues are found one by one.
   */
  holdBacklog?: number;
};

export type ReconcilePass = ReconcileResult & {
  /** The pass held back: the queues are deep. */
  held: boolean;
  backlog: number;
};

/**
 * The reconciler of one process: `pass()` looks for stale orders unless the payment queues are deep.
 * A deep backlog is draining: asking the queue about every order behind it would cost a Redis call per
 * order, and its results (which `pendingResults` lists) could exceed what one listing covers.
 */
export function createReconciler({
  db,
  olderThanMs,
  pipeline,
  holdBacklog = 100,
  ...options
}: ReconcilerOptions) {
  return {
    async pass(): Promise<ReconcilePass> {
      const backlog = await pipeline.backlog();
      if (backlog >= holdBacklog) return { reRequested: 0, stillQueued: 0, held: true, backlog };
      const result = await reRequestStalePayments(db, olderThanMs, pipeline.queuedRequests, {
        ...options,
        pendingResults: pipeline.pendingResults,
      });
      return { ...result, held: false, backlog };
    },
  };
}
