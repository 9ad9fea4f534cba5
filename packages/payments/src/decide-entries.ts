// Deciding stored inbox entries: the one place where payment requests become decisions. The per-message
// path (the sweep, the fallback) runs it for one entry per transaction, the group path for many.
import type { Logger } from "@gozon/core/logger";
import {
  buildMessage,
  parseMessage,
  type FailureReason,
  type PaymentRequested,
  type PaymentResult,
} from "@gozon/messaging/contracts";
import { failpoint } from "@gozon/messaging/failpoints";
import { outboxColumns } from "@gozon/messaging/outbox";
import type { SqlClient, TransactionalSqlClient } from "@gozon/messaging/sql";
import { debitForOrders, TX_OPTIONS, type DebitOutcome } from "./accounts.ts";

export type ProcessOutcome =
  /** Decided now: the account was charged, or the payment failed. */
  | { status: "decided"; result: PaymentResult }
  /** This order was decided earlier (a repeated request): the recorded result was sent again. */
  | { status: "resent"; result: PaymentResult }
  /** This very message was processed before (a duplicate delivery): nothing to do. */
  | { status: "already-processed" }
  /** No such inbox entry (never stored, or purged after the retention). */
  | { status: "missing" };

type PaymentRequest = PaymentRequested["payload"];
type Decision = { orderId: string; userId: string; amount: number } & DebitOutcome;
type LockedEntry = { messageId: string; payload: unknown; processed: boolean };

/** Publishes results right after their commit (`createCommittedPublisher`); the relay is the fallback. */
export type PublishResults = (results: PaymentResult[]) => Promise<void>;

/** The results the outcomes sent (decided or re-sent), to publish after the commit. */
export function resultsOf(outcomes: Iterable<ProcessOutcome>): PaymentResult[] {
  return [...outcomes].flatMap((o) => (o.status === "decided" || o.status === "resent" ? [o.result] : []));
}

/** A UUID as the database compares it: `A…` and `a…` are one order, one message, one account. */
export const uuidKey = (id: string) => id.toLowerCase();

/**
 * Processes inbox entries in one transaction: lock them, then decide each unprocessed one (or re-send its
 * order's recorded decision), record the decisions, mark the entries processed and write the results to
 * the outbox. Entries are decided in the order of `messageIds`, which matters when one account cannot pay
 * for all of its orders. Returns each message's outcome, keyed by `uuidKey(messageId)`.
 */
export async function processInboxEntries(
  db: TransactionalSqlClient,
  messageIds: string[],
  log: Logger,
  { direct = false }: { direct?: boolean } = {},
): Promise<Map<string, ProcessOutcome>> {
  return db.$transaction(async (tx) => {
    const locked = new Map((await lockInboxEntries(tx, messageIds)).map((e) => [e.messageId, e]));
    const entries = [...new Set(messageIds.map(uuidKey))].flatMap((id) => locked.get(id) ?? []);
    const outcomes = await decideEntries(tx, entries, log, direct);
    for (const id of messageIds)
      if (!outcomes.has(uuidKey(id))) outcomes.set(uuidKey(id), { status: "missing" });
    return outcomes;
  }, TX_OPTIONS);
}

/**
 * Two different messages for one order (a reconciler's re-request racing the original) must not both
 * decide: a per-order advisory lock serializes them until commit. All the advisory locks come first, in
 * key order, then the entries' row locks, in one round trip; every transaction that decides takes them
 * that way (and accounts only later), so two of them cannot deadlock. The key is that of the stored
 * payload, lower-cased so that one order is one key however its id is spelt. The decision lookup is a
 * later statement, so it sees whatever a transaction that held a lock committed; the row lock re-reads
 * `processed_at` as committed by one.
 */
async function lockInboxEntries(tx: SqlClient, messageIds: string[]): Promise<LockedEntry[]> {
  return tx.$queryRaw<LockedEntry[]>`
    WITH advisory AS MATERIALIZED (
      SELECT count(pg_advisory_xact_lock(k)) AS n
      FROM (
        SELECT DISTINCT hashtextextended(lower(payload #>> '{payload,orderId}'), 0) AS k
        FROM inbox WHERE message_id = ANY(${messageIds}::uuid[])
        ORDER BY k
      ) AS sorted
    )
    SELECT i.message_id::text AS "messageId", i.payload, i.processed_at IS NOT NULL AS processed
    FROM inbox i
    WHERE i.message_id = ANY(${messageIds}::uuid[]) AND (SELECT n FROM advisory) >= 0
    ORDER BY i.message_id
    FOR UPDATE OF i`;
}

/**
 * Decides locked entries in their order. An order with a recorded decision gets it again (never decided
 * twice, never debited twice); of several messages for one undecided order, the first decides and the
 * others re-send that decision. Then the debits (one statement per turn, see debitForOrders), and one
 * statement for the decisions, the entries' processed marks and the result messages.
 */
async function decideEntries(
  tx: SqlClient,
  entries: LockedEntry[],
  log: Logger,
  direct: boolean,
): Promise<Map<string, ProcessOutcome>> {
  const outcomes = new Map<string, ProcessOutcome>();
  const toMark: string[] = [];
  const requests: { messageId: string; request: PaymentRequest }[] = [];
  for (const { messageId, payload, processed } of entries) {
    if (processed) {
      outcomes.set(messageId, { status: "already-processed" });
      continue;
    }
    const parsed = parseMessage(payload, ["PaymentRequested"]);
    if (!parsed.ok) {
      // Only valid messages are stored, so this means a bug or a hand-edited row: record it and move on
      // rather than have the sweep retry it for ever.
      log.error({ messageId, error: parsed.error }, "invalid inbox entry skipped");
      toMark.push(messageId);
      outcomes.set(messageId, { status: "already-processed" });
      continue;
    }
    requests.push({ messageId, request: parsed.message.payload });
  }

  const decisions: Decision[] = [];
  const results: PaymentResult[] = [];
  if (requests.length > 0) {
    const recorded = await findDecisions(
      tx,
      requests.map(({ request }) => request.orderId),
    );
    const deciding = new Map<string, PaymentRequest>();
    for (const { request } of requests) {
      const order = uuidKey(request.orderId);
      if (!recorded.has(order) && !deciding.has(order)) deciding.set(order, request);
    }
    const debits = await debitForOrders(tx, [...deciding.values()]);
    failpoint("after-debits");
    const decided = new Map<string, Decision>();
    [...deciding].forEach(([order, request], i) => {
      const decision = { ...request, ...debits[i]! };
      decided.set(order, decision);
      decisions.push(decision);
    });

    for (const { messageId, request } of requests) {
      const order = uuidKey(request.orderId);
      if (deciding.get(order) === request) {
        const result = resultMessage(decided.get(order)!);
        outcomes.set(messageId, { status: "decided", result });
        results.push(result);
        continue;
      }
      const earlier = recorded.get(order) ?? decided.get(order)!;
      if (uuidKey(earlier.userId) !== uuidKey(request.userId) || earlier.amount !== request.amount) {
        log.warn({ messageId, orderId: request.orderId }, "repeated request differs from the decided one");
      }
      const result = resultMessage({ ...earlier, orderId: request.orderId });
      outcomes.set(messageId, { status: "resent", result });
      results.push(result);
    }
  }

  const processed = [...requests.map(({ messageId }) => messageId), ...toMark];
  // Every result comes from a processed entry: with none processed there is nothing to write.
  if (processed.length > 0) await recordDecisions(tx, decisions, processed, results, direct);
  return outcomes;
}

function resultMessage({ orderId, userId, amount, ...decision }: Decision): PaymentResult {
  return decision.outcome === "SUCCEEDED"
    ? buildMessage("PaymentSucceeded", { orderId, userId, amount })
    : buildMessage("PaymentFailed", { orderId, userId, amount, reason: decision.reason });
}

/** The recorded decisions of these orders, keyed by `uuidKey(orderId)`. */
async function findDecisions(tx: SqlClient, orderIds: string[]): Promise<Map<string, Decision>> {
  const rows = await tx.$queryRaw<
    {
      orderId: string;
      userId: string;
      amount: bigint;
      outcome: "SUCCEEDED" | "FAILED";
      reason: FailureReason | null;
    }[]
  >`
    SELECT order_id::text AS "orderId", user_id::text AS "userId", amount, outcome::text AS outcome,
           reason::text AS reason
    FROM payment_decisions WHERE order_id = ANY(${orderIds}::uuid[])`;
  return new Map(
    rows.map(({ orderId, userId, amount, outcome, reason }) => [
      orderId,
      outcome === "SUCCEEDED"
        ? { orderId, userId, amount: Number(amount), outcome }
        : { orderId, userId, amount: Number(amount), outcome, reason: reason! },
    ]),
  );
}

/** The new decisions, the entries' processed marks and the result messages' outbox rows, in one round trip. */
async function recordDecisions(
  tx: SqlClient,
  decisions: Decision[],
  messageIds: string[],
  results: PaymentResult[],
  direct: boolean,
) {
  const outbox = outboxColumns(results, { direct });
  await tx.$executeRaw`
    WITH decision AS (
      INSERT INTO payment_decisions (order_id, user_id, amount, outcome, reason)
      SELECT * FROM unnest(${decisions.map((d) => d.orderId)}::uuid[], ${decisions.map((d) => d.userId)}::uuid[],
                           ${decisions.map((d) => d.amount)}::bigint[],
                           ${decisions.map((d) => d.outcome)}::"PaymentOutcome"[],
                           ${decisions.map((d) => (d.outcome === "FAILED" ? d.reason : null))}::"FailureReason"[])
    ), queued AS (
      INSERT INTO outbox (id, queue, type, payload, relay_after)
      SELECT m.id, m.queue, m.type, m.payload, now() + make_interval(secs => ${outbox.graceSeconds}::float8)
      FROM unnest(${outbox.ids}::uuid[], ${outbox.queues}::text[], ${outbox.types}::text[],
                  ${outbox.payloads}::jsonb[]) AS m(id, queue, type, payload)
    )
    UPDATE inbox SET processed_at = now() WHERE message_id = ANY(${messageIds}::uuid[])`;
}
