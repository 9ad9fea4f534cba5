// The consumer's path: payment requests delivered together are stored in one statement and decided in
// one transaction (group commit), and a group that fails is retried message by message on the
// per-message path, so that a message that breaks the group fails on its own and never its neighbours.
import type { Logger } from "@gozon/core/logger";
import type { PaymentRequested } from "@gozon/messaging/contracts";
import { failpoint } from "@gozon/messaging/failpoints";
import { groupCommit } from "@gozon/messaging/group-commit";
import type { TransactionalSqlClient } from "@gozon/messaging/sql";
import {
  processInboxEntries,
  resultsOf,
  uuidKey,
  type ProcessOutcome,
  type PublishResults,
} from "./decide-entries.ts";
import { receivePaymentRequest, storeInboxEntries } from "./process-payment.ts";

/**
 * What happened to one delivery: whether it stored its message, and the message's outcome. `published`
 * resolves once the commit's results have been handed to the queue (or left to the relay): the consumer
 * waits for it, the next group does not.
 */
export type Received = { stored: boolean; outcome: ProcessOutcome; published: Promise<void> };

/** One group commit: how many requests, how long it took, and why it failed when it did. */
export type GroupEvent = { size: number; ms: number; error?: unknown };

/** A group failed; `stored` are the messages it had stored (committed) before it did. */
export class GroupCommitFailed extends Error {
  constructor(
    cause: unknown,
    readonly stored: ReadonlySet<string>,
  ) {
    super("group commit failed", { cause });
    this.name = "GroupCommitFailed";
  }
}

/**
 * The group path, the per-message path's steps for many messages: store them all in one statement (its
 * own commit, so that a crash before the decisions leaves entries the inbox sweep finishes), then decide
 * them all in one transaction, in the order given. The same message delivered twice is decided once; the
 * later copies get `already-processed`, as a duplicate delivery would. Throws GroupCommitFailed.
 */
export async function receivePaymentRequests(
  db: TransactionalSqlClient,
  messages: PaymentRequested[],
  log: Logger,
  publish?: PublishResults,
): Promise<Received[]> {
  const unique = [...new Map(messages.map((m) => [uuidKey(m.messageId), m])).values()];
  let stored = new Set<string>();
  let outcomes: Map<string, ProcessOutcome>;
  try {
    stored = await storeInboxEntries(db, unique);
    failpoint("after-inbox-store");
    outcomes = await processInboxEntries(
      db,
      unique.map((m) => m.messageId),
      log,
      { direct: publish !== undefined },
    );
    failpoint("after-process");
  } catch (error) {
    throw new GroupCommitFailed(error, stored);
  }
  const published = publish?.(resultsOf(outcomes.values())) ?? Promise.resolve();
  const answered = new Set<string>();
  return messages.map((message) => {
    const id = uuidKey(message.messageId);
    if (answered.has(id)) return { stored: false, outcome: { status: "already-processed" }, published };
    answered.add(id);
    return { stored: stored.has(id), outcome: outcomes.get(id)!, published };
  });
}

/**
 * `submit(message)` for the consumer's jobs: the requests submitted while a group commits form the next
 * group (@gozon/messaging/group-commit), run with receivePaymentRequests; a request alone, and each
 * request of a group that failed (for any reason), runs on the per-message path, receivePaymentRequest,
 * and gets its own result or error.
 */
export function createPaymentRequestBatcher({
  db,
  log,
  maxGroupSize = 64,
  onGroup,
  publish,
}: {
  db: TransactionalSqlClient;
  log: Logger;
  /** Publishes each commit's results right after it; without, the payments relay does. */
  publish?: PublishResults;
  maxGroupSize?: number;
  onGroup?: (event: GroupEvent) => void;
}): { submit: (message: PaymentRequested) => Promise<Received> } {
  // The requests of a failed group, about to be retried one by one, and whether the group stored each: the
  // retry finds it stored, but its delivery is still the one that brought it.
  const retrying = new Map<string, boolean>();
  const submit = groupCommit<PaymentRequested, Received>({
    maxGroup: maxGroupSize,
    commitGroup: async (messages) => {
      const started = performance.now();
      try {
        const received = await receivePaymentRequests(db, messages, log, publish);
        onGroup?.({ size: messages.length, ms: performance.now() - started });
        return received;
      } catch (error) {
        const stored = error instanceof GroupCommitFailed ? error.stored : new Set<string>();
        for (const { messageId } of messages)
          retrying.set(uuidKey(messageId), stored.has(uuidKey(messageId)));
        const err = error instanceof GroupCommitFailed ? error.cause : error;
        log.warn({ err, size: messages.length }, "group commit failed; deciding its messages one by one");
        onGroup?.({ size: messages.length, ms: performance.now() - started, error });
        throw error;
      }
    },
    commitOne: async (message) => {
      const id = uuidKey(message.messageId);
      const storedByGroup = retrying.get(id);
      retrying.delete(id);
      const started = performance.now();
      const received = await receivePaymentRequest(db, message, log, publish);
      if (storedByGroup === undefined) onGroup?.({ size: 1, ms: performance.now() - started });
      return storedByGroup ? { ...received, stored: true } : received;
    },
  });
  return { submit };
}
