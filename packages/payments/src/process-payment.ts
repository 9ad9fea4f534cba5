// Payment requests as the consumer receives them: each delivered message is stored in the inbox (once per
// message id) and decided in the same statement (decide-entries.ts), so a crash leaves either both or
// neither. The consumer's group path (group-commit.ts) hands in many messages at once, and comes back
// here one message at a time when a group fails; the inbox sweep decides entries stored on their own.
import type { Logger } from "@gozon/core/logger";
import type { PaymentRequested } from "@gozon/messaging/contracts";
import { failpoint } from "@gozon/messaging/failpoints";
import type { SqlClient } from "@gozon/messaging/sql";
import {
  processInboxEntries,
  receiveEntries,
  resultsOf,
  uuidKey,
  type ProcessOutcome,
  type PublishResults,
} from "./decide-entries.ts";

export type { ProcessOutcome } from "./decide-entries.ts";

/**
 * What happened to one delivery: whether it stored its message, and the message's outcome. `published`
 * resolves once the commit's results have been handed to the queue (or left to the relay): the consumer
 * waits for it, the next group does not.
 */
export type Received = { stored: boolean; outcome: ProcessOutcome; published: Promise<void> };

/**
 * Stores and decides `messages` in one statement, in the order given (which matters when one account
 * cannot pay for all of its orders), then hands their results to `publish`. The same message delivered
 * twice is decided once; the later copies get `already-processed`, as a duplicate delivery would.
 */
export async function receivePaymentRequests(
  db: SqlClient,
  messages: PaymentRequested[],
  log: Logger,
  publish?: PublishResults,
): Promise<Received[]> {
  const unique = [...new Map(messages.map((m) => [uuidKey(m.messageId), m])).values()];
  const received = await receiveEntries(db, unique, log, { direct: publish !== undefined });
  failpoint("after-process");
  const published = publish?.(resultsOf([...received.values()].map((r) => r.outcome))) ?? Promise.resolve();
  const answered = new Set<string>();
  return messages.map((message) => {
    const id = uuidKey(message.messageId);
    if (answered.has(id)) return { stored: false, outcome: { status: "already-processed" }, published };
    answered.add(id);
    const { stored, outcome } = received.get(id)!;
    return { stored, outcome, published };
  });
}

/** One message on its own: receivePaymentRequests for it. */
export async function receivePaymentRequest(
  db: SqlClient,
  message: PaymentRequested,
  log: Logger,
  publish?: PublishResults,
): Promise<Received> {
  return (await receivePaymentRequests(db, [message], log, publish))[0]!;
}

/**
 * An inbox entry already stored, in its own transaction: lock it; if its order has a recorded decision,
 * send it again (never decide twice, never debit twice); otherwise decide (charging the account when it
 * can pay) and record the decision; then write the result to the outbox and mark the entry processed.
 */
export async function processInboxEntry(
  db: SqlClient,
  messageId: string,
  log: Logger,
  options: { direct?: boolean } = {},
): Promise<ProcessOutcome> {
  const outcomes = await processInboxEntries(db, [messageId], log, options);
  return outcomes.get(uuidKey(messageId))!;
}
