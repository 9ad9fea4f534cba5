// Payment requests: transactional inbox (store once per message id), then one transaction per inbox entry
// that decides the payment (or re-sends a recorded decision) and writes the result to the outbox.
import type { Logger } from "@gozon/core/logger";
import {
  buildMessage,
  parseMessage,
  type FailureReason,
  type PaymentRequested,
  type PaymentResult,
} from "@gozon/messaging/contracts";
import { failpoint } from "@gozon/messaging/failpoints";
import { writeOutbox } from "@gozon/messaging/outbox";
import type { SqlClient, TransactionalSqlClient } from "@gozon/messaging/sql";
import { debitForOrder, TX_OPTIONS, type DebitOutcome } from "./accounts.ts";

export type ProcessOutcome =
  /** Decided now: the account was charged, or the payment failed. */
  | { status: "decided"; result: PaymentResult }
  /** This order was decided earlier (a repeated request): the recorded result was sent again. */
  | { status: "resent"; result: PaymentResult }
  /** This very message was processed before (a duplicate delivery): nothing to do. */
  | { status: "already-processed" }
  /** No such inbox entry (never stored, or purged after the retention). */
  | { status: "missing" };

/** Inbox, part 1: true when stored now, false when this message id was stored before (a duplicate). */
export async function storeInbox(db: SqlClient, message: PaymentRequested): Promise<boolean> {
  const stored = await db.$executeRaw`
    INSERT INTO inbox (message_id, type, payload)
    VALUES (${message.messageId}::uuid, ${message.type}, ${JSON.stringify(message)}::jsonb)
    ON CONFLICT (message_id) DO NOTHING`;
  return stored === 1;
}

/**
 * The consumer's path: store, then process. A duplicate is processed too, which is a no-op when the first
 * copy was processed, and finishes the job when the first copy's process crashed after storing it.
 */
export async function receivePaymentRequest(
  db: TransactionalSqlClient,
  message: PaymentRequested,
  log: Logger,
) {
  const stored = await storeInbox(db, message);
  failpoint("after-inbox-store");
  const outcome = await processInboxEntry(db, message.messageId, log);
  failpoint("after-process");
  return { stored, outcome };
}

/**
 * Inbox, part 2, in one transaction: lock the entry; if this order has a recorded decision, send it again
 * (never decide twice, never debit twice); otherwise decide (charging the account when it can pay), record
 * the decision; then write the result to the outbox and mark the entry processed.
 */
export async function processInboxEntry(
  db: TransactionalSqlClient,
  messageId: string,
  log: Logger,
): Promise<ProcessOutcome> {
  return db.$transaction(async (tx): Promise<ProcessOutcome> => {
    // Two different messages for one order (a reconciler's re-request racing the original) must not both
    // decide: a per-order advisory lock serializes them for the rest of this transaction. It is taken with
    // the entry's row lock in one round trip, always in that order (advisory, then row), so two
    // transactions cannot deadlock; the decision lookup below is a later statement, so it sees whatever a
    // transaction that held the lock committed.
    const [entry] = await tx.$queryRaw<{ payload: unknown; processed: boolean }[]>`
      SELECT i.payload, i.processed_at IS NOT NULL AS processed
      FROM inbox i
      CROSS JOIN LATERAL pg_advisory_xact_lock(hashtextextended(i.payload #>> '{payload,orderId}', 0)) AS locked
      WHERE i.message_id = ${messageId}::uuid
      FOR UPDATE OF i`;
    if (!entry) return { status: "missing" };
    if (entry.processed) return { status: "already-processed" };

    const parsed = parseMessage(entry.payload, ["PaymentRequested"]);
    if (!parsed.ok) {
      // Only valid messages are stored, so this means a bug or a hand-edited row: record it and move on
      // rather than have the sweep retry it for ever.
      log.error({ messageId, error: parsed.error }, "invalid inbox entry skipped");
      await markProcessed(tx, messageId);
      return { status: "already-processed" };
    }
    const request = parsed.message.payload;

    const recorded = await findDecision(tx, request.orderId);
    let status: "decided" | "resent";
    let result: PaymentResult;
    if (recorded) {
      status = "resent";
      if (recorded.userId !== request.userId || recorded.amount !== request.amount) {
        log.warn({ messageId, orderId: request.orderId }, "repeated request differs from the decided one");
      }
      result = resultMessage({ ...recorded, orderId: request.orderId });
    } else {
      status = "decided";
      const decision = await debitForOrder(tx, request);
      result = resultMessage({ ...request, ...decision });
      await recordDecisionAndMarkProcessed(tx, messageId, request, decision);
    }
    if (status === "resent") await markProcessed(tx, messageId);
    await writeOutbox(tx, result);
    return { status, result };
  }, TX_OPTIONS);
}

type Decision = { orderId: string; userId: string; amount: number } & DebitOutcome;

function resultMessage({ orderId, userId, amount, ...decision }: Decision): PaymentResult {
  return decision.outcome === "SUCCEEDED"
    ? buildMessage("PaymentSucceeded", { orderId, userId, amount })
    : buildMessage("PaymentFailed", { orderId, userId, amount, reason: decision.reason });
}

async function findDecision(tx: SqlClient, orderId: string) {
  const [row] = await tx.$queryRaw<
    { userId: string; amount: bigint; outcome: "SUCCEEDED" | "FAILED"; reason: FailureReason | null }[]
  >`
    SELECT user_id::text AS "userId", amount, outcome::text AS outcome, reason::text AS reason
    FROM payment_decisions WHERE order_id = ${orderId}::uuid`;
  if (!row) return undefined;
  const outcome: DebitOutcome =
    row.outcome === "SUCCEEDED" ? { outcome: "SUCCEEDED" } : { outcome: "FAILED", reason: row.reason! };
  return { userId: row.userId, amount: Number(row.amount), ...outcome };
}

/** The decision and the inbox entry's processed mark, in one round trip (this runs once per order). */
async function recordDecisionAndMarkProcessed(
  tx: SqlClient,
  messageId: string,
  { orderId, userId, amount }: PaymentRequested["payload"],
  decision: DebitOutcome,
) {
  const reason = decision.outcome === "FAILED" ? decision.reason : null;
  await tx.$executeRaw`
    WITH decision AS (
      INSERT INTO payment_decisions (order_id, user_id, amount, outcome, reason)
      VALUES (${orderId}::uuid, ${userId}::uuid, ${BigInt(amount)}, ${decision.outcome}::"PaymentOutcome",
              ${reason}::"FailureReason")
    )
    UPDATE inbox SET processed_at = now() WHERE message_id = ${messageId}::uuid`;
}

async function markProcessed(tx: SqlClient, messageId: string) {
  await tx.$executeRaw`UPDATE inbox SET processed_at = now() WHERE message_id = ${messageId}::uuid`;
}
