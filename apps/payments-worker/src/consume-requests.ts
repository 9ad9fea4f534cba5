// Consumer of `payments.requests`: validates each job against the contract, then hands it to the inbox,
// through a group commit: the jobs delivered together are decided in one transaction.
import { UnrecoverableError } from "bullmq";
import type { RedisClient } from "@gozon/core/infra/redis-client";
import type { Logger } from "@gozon/core/logger";
import { openMessage } from "@gozon/messaging/contracts";
import { startConsumer } from "@gozon/messaging/consumer-worker";
import { QUEUES } from "@gozon/messaging/queues";
import type { MessageKey } from "@gozon/messaging/signing";
import type { TransactionalSqlClient } from "@gozon/messaging/sql";
import type { PublishResults } from "@gozon/payments/decide-entries";
import { createPaymentRequestBatcher, type GroupEvent } from "@gozon/payments/group-commit";

export type RequestConsumerOptions = {
  db: TransactionalSqlClient;
  connection: RedisClient;
  prefix: string;
  /** Requests must be signed under it (MESSAGE_SIGNING_KEY); anything else is poison. */
  signingKey: MessageKey;
  log: Logger;
  /** Counts poison messages: unsigned or forged (`signature`), or not a valid request (`malformed`). */
  onPoison?: (reason: "signature" | "malformed") => void;
  /** Counts deliveries of a message the inbox had already processed. */
  onDuplicate?: () => void;
  /** Observes each group commit: its size, its time, and its error when it failed. */
  onGroup?: (event: GroupEvent) => void;
  /** Publishes results right after their commit (the payments relay is the fallback). */
  publish?: PublishResults;
  /** Jobs in hand at once, so also the largest group: a job waiting for its group holds no connection. */
  concurrency?: number;
};

/**
 * A poison message (not signed by this system, or failing the schema) is moved to the failed set at once
 * with UnrecoverableError, logged and counted (`onPoison`): no retries, the queue goes on, the worker
 * stays up. Any other error (the database is down) is thrown as is, so BullMQ retries the job with
 * backoff (a group that fails is retried message by message first, so the error is this message's own).
 * The job's return value says what happened (diagnostics).
 */
export function startRequestConsumer({
  db,
  connection,
  prefix,
  signingKey,
  log,
  onPoison,
  onDuplicate,
  onGroup,
  publish,
  concurrency = 64,
}: RequestConsumerOptions) {
  const consumerLog = log.child({ component: "payment-requests" });
  let duplicates = 0;
  const batcher = createPaymentRequestBatcher({
    db,
    log: consumerLog,
    maxGroupSize: concurrency,
    onGroup,
    publish,
  });

  const worker = startConsumer(
    QUEUES.paymentRequests,
    async (job) => {
      // The signature first: a request this system did not sign debits nobody (anyone who can write to
      // Redis could otherwise charge any account).
      const parsed = openMessage(signingKey, job.data, ["PaymentRequested"]);
      if (!parsed.ok) {
        consumerLog.error(
          { jobId: job.id, messageId: parsed.messageId, error: parsed.error, reason: parsed.reason },
          "poison message dead-lettered",
        );
        onPoison?.(parsed.reason);
        throw new UnrecoverableError(`poison message: ${parsed.error}`);
      }
      const { messageId } = parsed.message;
      const { stored, outcome, published } = await batcher.submit(parsed.message);
      await published;
      if (!stored && outcome.status === "already-processed") {
        duplicates++;
        onDuplicate?.();
        consumerLog.info({ jobId: job.id, messageId, duplicates }, "duplicate message dropped");
      } else if (!stored) {
        consumerLog.info(
          { jobId: job.id, messageId },
          "redelivered message finished its pending inbox entry",
        );
      }
      return { stored, status: outcome.status };
    },
    { connection, prefix, concurrency },
  );

  worker.on("failed", (job, err) => {
    if (!job || err instanceof UnrecoverableError || err.name === "UnrecoverableError") return;
    const final = job.attemptsMade >= (job.opts.attempts ?? 1);
    consumerLog.warn(
      { err, jobId: job.id, attemptsMade: job.attemptsMade },
      final ? "payment request failed for good" : "payment request failed; will retry",
    );
  });
  worker.on("error", (err) => consumerLog.error({ err }, "payment request consumer error"));
  return worker;
}
