// orders-worker: the orders outbox relay, the payment-results consumer and the reconciler.
import { loadConfigOrExit } from "@gozon/core/config";
import { every } from "@gozon/core/every";
import { onShutdown } from "@gozon/core/lifecycle";
import { createLogger } from "@gozon/core/logger";
import { createOrdersClient } from "@gozon/db/clients";
import { purgeIdempotencyKeys } from "@gozon/db/idempotency";
import { createProducerConnection, pingRedis, QUEUES } from "@gozon/messaging/queues";
import { closeConsumer } from "@gozon/messaging/consumer-worker";
import { startWorkerProcess } from "@gozon/messaging/worker-process";
import { purgeOrderLog } from "@gozon/orders/order-log";
import { startPositionAssigner } from "@gozon/orders/position-assigner";
import { createReconciler } from "@gozon/orders/reconcile";
import { Queue } from "bullmq";
import { consumePaymentResults } from "./consume-results.ts";
import { createOrdersWorkerMetrics } from "./metrics.ts";
import { paymentPipeline } from "./payment-pipeline.ts";

const config = loadConfigOrExit();
// One name per instance (`orders-worker-2`) when the launcher runs several.
const log = createLogger(config.WORKER_NAME ?? "orders-worker", config.LOG_LEVEL);
// Jobs of the payment-results consumer at once; the database pool is sized from it (see pool-size.ts).
const RESULTS_CONCURRENCY = 20;
// Results are settled in groups (group-commit.ts): one settle statement at a time, the lookup of results
// that changed nothing, and the one-at-a-time retries of a group that failed.
const SETTLE_CONNECTIONS = 3;

try {
  const worker = await startWorkerProcess({
    name: "orders-worker",
    service: "orders",
    config,
    log,
    consumers: { paymentResults: SETTLE_CONNECTIONS },
    background: ["position assigner", "reconciler", "housekeeping"],
    outboxClient: createOrdersClient,
    metricsPort: 9464,
  });
  const { databaseUrl, db, connection, producer, prefix, signingKey, relay } = worker;
  const metrics = createOrdersWorkerMetrics(worker.registry);
  // Order and balance events go out on a connection of their own: it pipelines while jobs run.
  const publisher = createProducerConnection(config, "orders-worker-pub", log);
  await pingRedis(publisher, 5_000);
  const positions = startPositionAssigner({
    db,
    databaseUrl,
    publisher,
    redisPrefix: config.REDIS_PREFIX,
    signingKey,
    log,
    pollMs: config.OUTBOX_POLL_MS,
  });
  const results = consumePaymentResults({
    db,
    connection,
    publisher,
    prefix,
    redisPrefix: config.REDIS_PREFIX,
    signingKey,
    log,
    metrics,
    concurrency: RESULTS_CONCURRENCY,
  });
  const requests = new Queue(QUEUES.paymentRequests, { connection: producer, prefix });
  const resultsQueue = new Queue(QUEUES.paymentResults, { connection: producer, prefix });
  const reconciler = createReconciler({
    db,
    olderThanMs: config.RECONCILE_AFTER_MS,
    pipeline: paymentPipeline(requests, resultsQueue, config.RECONCILE_AFTER_MS, signingKey),
  });
  let holding = false;
  const reconciling = every(Math.min(5_000, config.RECONCILE_AFTER_MS / 2), "reconciler", log, async () => {
    const { reRequested, stillQueued, held, backlog } = await reconciler.pass();
    if (held !== holding) {
      log.info({ backlog }, held ? "queues deep: reconciler holds back" : "reconciler resumes");
      holding = held;
    }
    if (reRequested > 0) {
      metrics.reRequested.inc(reRequested);
      log.warn({ count: reRequested, stillQueued }, "re-requested payment for orders still NEW");
    } else if (stillQueued > 0) {
      log.info({ stillQueued }, "orders still NEW have their payment request queued; not asking again");
    }
  });
  const housekeeping = every(60 * 60_000, "housekeeping", log, async () => {
    const outbox = await relay.purgeSent(config.RETENTION_DAYS);
    const keys = await purgeIdempotencyKeys(db, config.RETENTION_DAYS * 24);
    const changes = await purgeOrderLog(db, config.ORDER_LOG_RETENTION_DAYS);
    log.info({ outbox, idempotencyKeys: keys, orderChanges: changes }, "purged old rows");
  });
  housekeeping.tick();
  log.info("orders worker ready");

  onShutdown(log, async () => {
    // At once: each waits a bounded time, and the shutdown has 10 s in all.
    await Promise.all([reconciling.stop(), housekeeping.stop(), closeConsumer(results, log)]);
    await requests.close();
    await resultsQueue.close();
    await positions.stop();
    publisher.disconnect();
    await worker.close();
  });
} catch (err) {
  log.fatal({ err }, "orders worker failed to start");
  process.exit(1);
}
