// The consumer's path: payment requests delivered together are stored and decided in one statement
// (group commit), and a group that fails is retried message by message, so that a message that breaks
// the group fails on its own and never its neighbours. A failed statement stored nothing, so the retry
// starts from scratch.
import type { Logger } from "@gozon/core/logger";
import type { PaymentRequested } from "@gozon/messaging/contracts";
import { groupCommit } from "@gozon/messaging/group-commit";
import type { SqlClient } from "@gozon/messaging/sql";
import { uuidKey, type PublishResults } from "./decide-entries.ts";
import { receivePaymentRequest, receivePaymentRequests, type Received } from "./process-payment.ts";

export type { Received } from "./process-payment.ts";

/** One group commit: how many requests, how long it took, and why it failed when it did. */
export type GroupEvent = { size: number; ms: number; error?: unknown };

/**
 * `submit(message)` for the consumer's jobs: the requests submitted while a group commits form the next
 * group (@gozon/messaging/group-commit), run with receivePaymentRequests; a request alone, and each
 * request of a group that failed (for any reason), runs alone and gets its own result or error.
 */
export function createPaymentRequestBatcher({
  db,
  log,
  maxGroupSize = 64,
  onGroup,
  publish,
}: {
  db: SqlClient;
  log: Logger;
  /** Publishes each commit's results right after it; without, the payments relay does. */
  publish?: PublishResults;
  maxGroupSize?: number;
  onGroup?: (event: GroupEvent) => void;
}): { submit: (message: PaymentRequested) => Promise<Received> } {
  // The requests of a failed group, about to be retried one by one: their retries are not groups of
  // their own (the failed group was reported once).
  const retrying = new Set<string>();
  const submit = groupCommit<PaymentRequested, Received>({
    maxGroup: maxGroupSize,
    commitGroup: async (messages) => {
      const started = performance.now();
      try {
        const received = await receivePaymentRequests(db, messages, log, publish);
        onGroup?.({ size: messages.length, ms: performance.now() - started });
        return received;
      } catch (error) {
        for (const { messageId } of messages) retrying.add(uuidKey(messageId));
        log.warn(
          { err: error, size: messages.length },
          "group commit failed; deciding its messages one by one",
        );
        onGroup?.({ size: messages.length, ms: performance.now() - started, error });
        throw error;
      }
    },
    commitOne: async (message) => {
      const retry = retrying.delete(uuidKey(message.messageId));
      const started = performance.now();
      const received = await receivePaymentRequest(db, message, log, publish);
      if (!retry) onGroup?.({ size: 1, ms: performance.now() - started });
      return received;
    },
  });
  return { submit };
}
