// Orders, settle (step 6 of the saga): each payment result moves its order out of NEW exactly once.
import { UnrecoverableError, Worker } from "bullmq";
import type { RedisClient } from "@gozon/core/infra/redis-client";
import type { Logger } from "@gozon/core/logger";
import { parseMessage } from "@gozon/messaging/contracts";
import { QUEUES } from "@gozon/messaging/queues";
import type { SqlClient } from "@gozon/messaging/sql";
import { settleOrder } from "@gozon/orders/settle-order";
import type { OrdersWorkerMetrics } from "./metrics.ts";

export type ResultsConsumerOptions = {
  db: SqlClient;
  connection: RedisClient;
  prefix: string;
  log: Logger;
  metrics: OrdersWorkerMetrics;
  concurrency?: number;
  /** Called after an order changed: the position assigner stamps and announces it without waiting for NOTIFY. */
  onChanged?: () => void;
};

export function consumePaymentResults({
  db,
  connection,
  prefix,
  log,
  metrics,
  concurrency = 20,
  onChanged,
}: ResultsConsumerOptions) {
  const worker = new Worker(
    QUEUES.paymentResults,
    async (job) => {
      const parsed = parseMessage(job.data, ["PaymentSucceeded", "PaymentFailed"]);
      if (!parsed.ok) {
        // A poison message never succeeds: dead-letter it (BullMQ's failed set) instead of retrying.
        log.error(
          { jobId: job.id, messageId: parsed.messageId, error: parsed.error },
          "poison payment result",
        );
        throw new UnrecoverableError(parsed.error);
      }
      const { message } = parsed;
      const msgLog = log.child({ messageId: message.messageId, orderId: message.payload.orderId });
      const { order, changed } = await settleOrder(db, message);
      if (!order) {
        msgLog.warn("payment result for an unknown order: dropped");
        return;
      }
      if (changed) {
        onChanged?.();
        metrics.settled.inc({ status: order.status });
        metrics.settleLatency.observe((order.updatedAt.getTime() - order.createdAt.getTime()) / 1000);
      }
      msgLog.info({ status: order.status, reason: order.cancelReason, changed }, "order settled");
    },
    { connection, prefix, concurrency },
  );
  worker.on("failed", (job, err) => {
    log.warn({ jobId: job?.id, attempts: job?.attemptsMade, err }, "payment result failed; will retry");
  });
  worker.on("error", (err) => log.error({ err }, "results consumer error"));
  return worker;
}
