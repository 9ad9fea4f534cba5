// Orders, settle (step 6 of the saga): each payment result moves its order out of NEW exactly once.
// Results delivered together are settled together (group commit), and their events go out right after.
import { UnrecoverableError } from "bullmq";
import type { RedisClient } from "@gozon/core/infra/redis-client";
import type { Logger } from "@gozon/core/logger";
import { openMessage, type PaymentResult } from "@gozon/messaging/contracts";
import { groupCommit } from "@gozon/messaging/group-commit";
import { startConsumer } from "@gozon/messaging/consumer-worker";
import { QUEUES } from "@gozon/messaging/queues";
import type { MessageKey } from "@gozon/messaging/signing";
import type { SqlClient } from "@gozon/messaging/sql";
import { settleAndAnnounce, type AnnounceTo, type SettleOutcome } from "@gozon/orders/settle-order";
import type { OrdersWorkerMetrics } from "./metrics.ts";

export type ResultsConsumerOptions = {
  db: SqlClient;
  connection: RedisClient;
  /** Publishes the settled orders' events (a connection of its own: it pipelines while jobs run). */
  publisher: AnnounceTo["publisher"];
  prefix: string;
  redisPrefix: string;
  /** Results must be signed under it; the events it publishes are (MESSAGE_SIGNING_KEY). */
  signingKey: MessageKey;
  log: Logger;
  metrics: OrdersWorkerMetrics;
  concurrency?: number;
};

export function consumePaymentResults({
  db,
  connection,
  publisher,
  prefix,
  redisPrefix,
  signingKey,
  log,
  metrics,
  concurrency = 20,
}: ResultsConsumerOptions) {
  // A group's events go out while the next group settles; each job still waits for its own.
  const settle = groupCommit<PaymentResult, SettleOutcome & { announced: Promise<void> }>({
    maxGroup: concurrency,
    commitGroup: async (results) => {
      const { outcomes, announced } = await settleAndAnnounce(
        db,
        { publisher, redisPrefix, signingKey, log },
        results,
      );
      return outcomes.map((outcome) => ({ ...outcome, announced }));
    },
  });

  const worker = startConsumer(
    QUEUES.paymentResults,
    async (job) => {
      // The signature first: nothing of a message that this system did not sign is read or acted on.
      const parsed = openMessage(signingKey, job.data, ["PaymentSucceeded", "PaymentFailed"]);
      if (!parsed.ok) {
        // A poison message never succeeds: dead-letter it (BullMQ's failed set) instead of retrying.
        log.error(
          { jobId: job.id, messageId: parsed.messageId, error: parsed.error, reason: parsed.reason },
          "poison payment result",
        );
        metrics.poison.inc({ queue: QUEUES.paymentResults, reason: parsed.reason });
        throw new UnrecoverableError(`poison payment result: ${parsed.error}`);
      }
      const { message } = parsed;
      const msgLog = log.child({ messageId: message.messageId, orderId: message.payload.orderId });
      const { order, changed, refused, announced } = await settle(message);
      await announced;
      if (refused) {
        // Not the order's user or amount: forged or corrupt. It changed nothing; retrying cannot help.
        msgLog.error(
          { jobId: job.id, error: refused, userId: message.payload.userId, amount: message.payload.amount },
          "poison payment result: does not match its order",
        );
        metrics.poison.inc({ queue: QUEUES.paymentResults, reason: "mismatch" });
        throw new UnrecoverableError(`poison payment result: ${refused}`);
      }
      if (!order) {
        msgLog.warn("payment result for an unknown order: dropped");
        return;
      }
      if (changed) {
        metrics.settled.inc({ status: order.status });
        metrics.settleLatency.observe((order.updatedAt.getTime() - order.createdAt.getTime()) / 1000);
      }
      msgLog.info({ status: order.status, reason: order.cancelReason, changed }, "order settled");
    },
    { connection, prefix, concurrency },
  );
  worker.on("failed", (job, err) => {
    if (err instanceof UnrecoverableError || err.name === "UnrecoverableError") return; // logged above
    log.warn({ jobId: job?.id, attempts: job?.attemptsMade, err }, "payment result failed; will retry");
  });
  worker.on("error", (err) => log.error({ err }, "results consumer error"));
  return worker;
}
