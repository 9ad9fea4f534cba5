// The consumer's path: payment requests delivered together are stored in one statement and decided in
// one transaction (group commit), and a group that fails is retried message by message on the
// per-message path, so that a message that breaks the group fails on its own and never its neighbours.
import type { Logger } from "@gozon/core/logger";
import type { PaymentRequested } from "@gozon/messaging/contracts";
import { failpoint } from "@gozon/messaging/failpoints";
import type { TransactionalSqlClient } from "@gozon/messaging/sql";
import { processInboxEntries, uuidKey, type ProcessOutcome } from "./decide-entries.ts";
import { receivePaymentRequest, storeInboxEntries } from "./process-payment.ts";
import { createGroupBatcher, type GroupBatcher, type GroupEvent } from "./request-batcher.ts";

/** What happened to one delivery: whether it stored its message, and the message's outcome. */
export type Received = { stored: boolean; outcome: ProcessOutcome };

/** A group failed; `stored` are the messages it had stored (committed) before it did. */
export class GroupCommitFailed extends Error {
  constructor(
    cause: unknown,
    private readonly stored: Set<string>,
  ) {
    super("group commit failed", { cause });
    this.name = "GroupCommitFailed";
  }

  /** True once per message the group stored: the delivery that claims it is the one that stored it. */
  claimStored(messageId: string) {
    return this.stored.delete(uuidKey(messageId));
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
    );
    failpoint("after-process");
  } catch (error) {
    throw new GroupCommitFailed(error, stored);
  }
  const answered = new Set<string>();
  return messages.map((message) => {
    const id = uuidKey(message.messageId);
    if (answered.has(id)) return { stored: false, outcome: { status: "already-processed" } };
    answered.add(id);
    return { stored: stored.has(id), outcome: outcomes.get(id)! };
  });
}

/**
 * Groups the requests submitted concurrently (see request-batcher.ts) and runs each group with
 * receivePaymentRequests; when a group fails, for any reason, each of its messages runs on its own with
 * receivePaymentRequest and gets its own result or error.
 */
export function createPaymentRequestBatcher({
  db,
  log,
  maxGroupSize = 64,
  onGroup,
}: {
  db: TransactionalSqlClient;
  log: Logger;
  maxGroupSize?: number;
  onGroup?: (event: GroupEvent) => void;
}): GroupBatcher<PaymentRequested, Received> {
  return createGroupBatcher<PaymentRequested, Received>({
    maxGroupSize,
    runGroup: (messages) => receivePaymentRequests(db, messages, log),
    runOne: async (message, groupError) => {
      const received = await receivePaymentRequest(db, message, log);
      const storedByGroup =
        groupError instanceof GroupCommitFailed && groupError.claimStored(message.messageId);
      return storedByGroup ? { ...received, stored: true } : received;
    },
    onGroup: (event) => {
      if (event.error !== undefined) {
        const err = event.error instanceof GroupCommitFailed ? event.error.cause : event.error;
        log.warn({ err, size: event.size }, "group commit failed; deciding its messages one by one");
      }
      onGroup?.(event);
    },
  });
}
