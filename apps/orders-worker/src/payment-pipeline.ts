// What the reconciler learns from the payment queues (see `PaymentPipeline` in @gozon/orders/reconcile).
import type { Queue } from "bullmq";
import { parseMessage } from "@gozon/messaging/contracts";
import { jobsInFlight, unfinishedJobData, waitingJobs } from "@gozon/messaging/queues";
import type { PaymentPipeline } from "@gozon/orders/reconcile";

/**
 * `recentMs` is the reconciler's age: a request taken or answered within it is not lost yet. The results
 * queue is listed only when the reconciler has candidates and the queues are not deep (it holds back
 * then), so `scanLimit` jobs per state cover it.
 */
export function paymentPipeline(
  requests: Queue,
  results: Queue,
  recentMs: number,
  scanLimit = 1_000,
): PaymentPipeline {
  return {
    backlog: () => waitingJobs([requests, results]),
    queuedRequests: (ids) => jobsInFlight(requests, ids, { recentMs }),
    async pendingResults() {
      const orderIds = new Set<string>();
      for (const data of await unfinishedJobData(results, scanLimit)) {
        const parsed = parseMessage(data, ["PaymentSucceeded", "PaymentFailed"]);
        if (parsed.ok) orderIds.add(parsed.message.payload.orderId);
      }
      return orderIds;
    },
  };
}
