// Payment requests, one message at a time: transactional inbox (store once per message id), then one
// transaction per inbox entry that decides the payment (or re-sends a recorded decision) and writes the
// result to the outbox. The consumer's group path (group-commit.ts) does the same for many messages at
// once, and comes back here when a group fails; the inbox sweep uses this path too.
import type { Logger } from "@gozon/core/logger";
import type { PaymentRequested } from "@gozon/messaging/contracts";
import { failpoint } from "@gozon/messaging/failpoints";
import type { SqlClient, TransactionalSqlClient } from "@gozon/messaging/sql";
import {
  processInboxEntries,
  resultsOf,
  uuidKey,
  type ProcessOutcome,
  type PublishResults,
} from "./decide-entries.ts";

export type { ProcessOutcome } from "./decide-entries.ts";

/** Inbox, part 1: true when stored now, false when this message id was stored before (a duplicate). */
export async function storeInbox(db: SqlClient, message: PaymentRequested): Promise<boolean> {
  return (await storeInboxEntries(db, [message])).has(uuidKey(message.messageId));
}

/**
 * Inbox, part 1, for several messages in one statement: the `uuidKey`s of the message ids stored now (the
 * others were stored before). Rows go in message id order, so two such statements with shared messages
 * wait for each other in one order and cannot deadlock.
 */
export async function storeInboxEntries(db: SqlClient, messages: PaymentRequested[]): Promise<Set<string>> {
  const rows = await db.$queryRaw<{ messageId: string }[]>`
    INSERT INTO inbox (message_id, type, payload)
    SELECT m.id, m.type, m.payload
    FROM unnest(${messages.map((m) => m.messageId)}::uuid[], ${messages.map((m) => m.type)}::text[],
                ${messages.map((m) => JSON.stringify(m))}::jsonb[]) AS m(id, type, payload)
    ORDER BY m.id
    ON CONFLICT (message_id) DO NOTHING
    RETURNING message_id::text AS "messageId"`;
  return new Set(rows.map((row) => row.messageId));
}

/**
 * The per-message path: store, then process. A duplicate is processed too, which is a no-op when the first
 * copy was processed, and finishes the job when the first copy's process crashed after storing it.
 */
export async function receivePaymentRequest(
  db: TransactionalSqlClient,
  message: PaymentRequested,
  log: Logger,
  publish?: PublishResults,
) {
  const stored = await storeInbox(db, message);
  failpoint("after-inbox-store");
  const outcome = await processInboxEntry(db, message.messageId, log, { direct: publish !== undefined });
  failpoint("after-process");
  return { stored, outcome, published: publish?.(resultsOf([outcome])) ?? Promise.resolve() };
}

/**
 * Inbox, part 2, for one entry in its own transaction: lock it; if its order has a recorded decision, send
 * it again (never decide twice, never debit twice); otherwise decide (charging the account when it can
 * pay) and record the decision; then write the result to the outbox and mark the entry processed.
 */
export async function processInboxEntry(
  db: TransactionalSqlClient,
  messageId: string,
  log: Logger,
  options: { direct?: boolean } = {},
): Promise<ProcessOutcome> {
  const outcomes = await processInboxEntries(db, [messageId], log, options);
  return outcomes.get(uuidKey(messageId))!;
}
