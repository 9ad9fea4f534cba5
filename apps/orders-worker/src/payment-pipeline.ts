// What the reconciler learns from the payment queues (see `PaymentPipeline` in @gozon/orders/reconcile).
import type { Queue } from "bullmq";
import { openMessage } from "@gozon/messaging/contracts";
import { jobsInFlight, unfinishedJobData, waitingJobs } from "@gozon/messaging/queues";
import type { MessageKey } from "@gozon/messaging/signing";
import type { PaymentPipeline } from "@gozon/orders/reconcile";

/**
 * `recentMs` is the reconciler's age: a request taken or answered within it, or a result taken within
 * it, is not lost yet. The results queue is listed only when the reconciler has candidates and fewer
 * than its backlog are ready to run (it holds back otherwise), so `scanLimit` jobs per state cover those;
 * delayed results past `scanLimit` (retries, far more than a healthy queue holds) are not seen, and their
 * orders asked for again: late and harmless, a second request is decided once. Only results signed under `signingKey` count: a forged
 * one will be refused, so it must not hold back a re-request either.
 */
export function paymentPipeline(
  requests: Queue,
  results: Queue,
  recentMs: number,
  signingKey: MessageKey,
  scanLimit = 1_000,
): PaymentPipeline {
  return {
    backlog: () => waitingJobs([requests, results]),
    queuedRequests: (ids) => jobsInFlight(requests, ids, { recentMs }),
    async pendingResults() {
      const orderIds = new Set<string>();
      for (const data of await unfinishedJobData(results, scanLimit, { recentMs })) {
        const parsed = openMessage(signingKey, data, ["PaymentSucceeded", "PaymentFailed"]);
        if (parsed.ok) orderIds.add(parsed.message.payload.orderId);
      }
      return orderIds;
    },
  };
}
