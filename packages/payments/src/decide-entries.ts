// Deciding payment requests: the one place where they become decisions. A delivered request is stored in
// the inbox and decided in one call of the database's `receive_payments` (migration
// 20261203030000_receive_payments_in_one_call), a stored entry (the inbox sweep) in one call of
// `decide_payments` (20261202190000_decide_payments_in_one_call), which holds the rules: locks, never
// deciding an order twice, the debits, the decisions and the result messages.
import type { Logger } from "@gozon/core/logger";
import { parseMessage, type PaymentRequested, type PaymentResult } from "@gozon/messaging/contracts";
import { graceSeconds } from "@gozon/messaging/outbox";
import { ROUTES } from "@gozon/messaging/queues";
import type { SqlClient } from "@gozon/messaging/sql";

export type ProcessOutcome =
  /** Decided now: the account was charged, or the payment failed. */
  | { status: "decided"; result: PaymentResult }
  /** This order was decided earlier (a repeated request): the recorded result was sent again. */
  | { status: "resent"; result: PaymentResult }
  /** This very message was processed before (a duplicate delivery): nothing to do. */
  | { status: "already-processed" }
  /** No such inbox entry (never stored, or purged after the retention). */
  | { status: "missing" };

/** Publishes results right after their commit (`createCommittedPublisher`); the relay is the fallback. */
export type PublishResults = (results: PaymentResult[]) => Promise<void>;

/** The results the outcomes sent (decided or re-sent), to publish after the commit. */
export function resultsOf(outcomes: Iterable<ProcessOutcome>): PaymentResult[] {
  return [...outcomes].flatMap((o) => (o.status === "decided" || o.status === "resent" ? [o.result] : []));
}

/** A UUID as the database compares it: `A…` and `a…` are one order, one message, one account. */
export const uuidKey = (id: string) => id.toLowerCase();

type DecidedRow = {
  messageId: string;
  /** receive_payments only: whether this call stored the message (false: a duplicate delivery). */
  stored?: boolean;
  status: "decided" | "resent" | "already-processed" | "invalid";
  result: unknown;
  differs: boolean;
};

/** Both results go to one queue, which `decide_payments` is told (the type says they share it). */
const RESULTS_QUEUE: typeof ROUTES.PaymentFailed = ROUTES.PaymentSucceeded;

/**
 * Processes inbox entries in one statement (`decide_payments`, its own transaction): lock them, then
 * decide each unprocessed one (or re-send its order's recorded decision), record the decisions, mark the
 * entries processed and write the results to the outbox. Entries are decided in the order of
 * `messageIds`, which matters when one account cannot pay for all of its orders. Returns each message's
 * outcome, keyed by `uuidKey(messageId)`.
 */
export async function processInboxEntries(
  db: SqlClient,
  messageIds: string[],
  log: Logger,
  { direct = false }: { direct?: boolean } = {},
): Promise<Map<string, ProcessOutcome>> {
  const rows = await db.$queryRaw<DecidedRow[]>`
    SELECT message_id::text AS "messageId", status, result, differs
    FROM decide_payments(${messageIds}::uuid[], ${RESULTS_QUEUE}, ${graceSeconds(direct)}::float8)`;
  const outcomes = new Map<string, ProcessOutcome>();
  for (const row of rows) outcomes.set(row.messageId, outcomeOf(row, log));
  for (const id of messageIds)
    if (!outcomes.has(uuidKey(id))) outcomes.set(uuidKey(id), { status: "missing" });
  return outcomes;
}

/**
 * Stores delivered requests in the inbox and decides them, in one statement (`receive_payments`, its own
 * transaction): what `processInboxEntries` does, for messages not stored yet. Returns, keyed by
 * `uuidKey(messageId)`, whether this call stored each message (false: it was delivered before) and its
 * outcome. Each message id must appear once.
 */
export async function receiveEntries(
  db: SqlClient,
  messages: PaymentRequested[],
  log: Logger,
  { direct = false }: { direct?: boolean } = {},
): Promise<Map<string, { stored: boolean; outcome: ProcessOutcome }>> {
  const rows = await db.$queryRaw<Required<DecidedRow>[]>`
    SELECT message_id::text AS "messageId", stored, status, result, differs
    FROM receive_payments(${messages.map((m) => JSON.stringify(m))}::jsonb[], ${RESULTS_QUEUE},
                          ${graceSeconds(direct)}::float8)`;
  return new Map(rows.map((row) => [row.messageId, { stored: row.stored, outcome: outcomeOf(row, log) }]));
}

function outcomeOf({ messageId, status, result, differs }: DecidedRow, log: Logger): ProcessOutcome {
  if (status === "already-processed") return { status };
  if (status === "invalid") {
    // Only valid messages are stored, so this means a bug or a hand-edited row: it was marked processed
    // rather than left for the sweep to retry for ever.
    log.error({ messageId }, "invalid inbox entry skipped");
    return { status: "already-processed" };
  }
  const parsed = parseMessage(result, ["PaymentSucceeded", "PaymentFailed"]);
  // The function builds the envelope by hand; a result the contract rejects is a bug in it, loud here
  // (its outbox row is committed, and the orders consumer would dead-letter it).
  if (!parsed.ok) throw new Error(`decide_payments wrote a result the contract rejects: ${parsed.error}`);
  if (differs)
    log.warn(
      { messageId, orderId: parsed.message.payload.orderId },
      "repeated request differs from the decided one",
    );
  return { status, result: parsed.message };
}
