// orders-worker: the orders outbox relay, the payment-results consumer and the reconciler.
import { loadConfigOrExit, serviceDatabaseUrls } from "@gozon/core/config";
import { every } from "@gozon/core/every";
import { checkRedisPolicy } from "@gozon/core/infra/redis";
import { onShutdown } from "@gozon/core/lifecycle";
import { createLogger } from "@gozon/core/logger";
import { createOrdersClient } from "@gozon/db/clients";
import { poolSizeFor } from "@gozon/db/pool-size";
import { createSqlPool } from "@gozon/db/sql-client";
import { purgeIdempotencyKeys } from "@gozon/db/idempotency";
import { createOutboxRelay } from "@gozon/messaging/outbox-relay";
import { startQueueKeyMender } from "@gozon/messaging/queue-keys";
import { messageKey } from "@gozon/messaging/signing";
import { Queue } from "bullmq";
import {
  bullPrefix,
  createProducerConnection,
  createRedisConnection,
  pingRedis,
  QUEUES,
} from "@gozon/messaging/queues";
import { purgeOrderLog } from "@gozon/orders/order-log";
import { startPositionAssigner } from "@gozon/orders/position-assigner";
import { createReconciler } from "@gozon/orders/reconcile";
import { createRegistry, serveMetrics } from "@gozon/core/metrics";
import { registerOutboxGauges, registerQueueDepthGauge } from "@gozon/messaging/metrics";
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
  const databaseUrl = serviceDatabaseUrls(config).orders;
  // Everything here is raw SQL on the hot path: plain `pg` (see sql-client.ts for the cost difference).
  const db = createSqlPool(databaseUrl, {
    max: poolSizeFor({
      consumers: { paymentResults: SETTLE_CONNECTIONS },
      background: [
        "outbox relay",
        "position assigner",
        "reconciler",
        "housekeeping",
        "outbox backlog gauge",
        "outbox age gauge",
      ],
    }),
  });
  await db.$queryRaw`SELECT 1`;
  // The relay claims through Prisma (see outbox-relay.ts), over the same pool.
  const outboxClient = createOrdersClient(db.pool);
  // The results consumer's own connection; what this process produces or reads goes on the producer
  // connections, which fail fast while Redis is away instead of queueing.
  const connection = createRedisConnection(config, "orders-worker", log);
  const producer = createProducerConnection(config, "orders-worker-producer", log);
  const publisher = createProducerConnection(config, "orders-worker-pub", log);
  await Promise.all([connection, producer, publisher].map((redis) => pingRedis(redis, 5_000)));
  await checkRedisPolicy(connection, log);
  const prefix = bullPrefix(config);
  const signingKey = messageKey(config.MESSAGE_SIGNING_KEY, config.MESSAGE_SIGNING_KEYS_ACCEPTED);

  const registry = createRegistry("orders-worker");
  const metrics = createOrdersWorkerMetrics(registry);
  registerOutboxGauges(registry, db);
  const queueGauge = registerQueueDepthGauge(registry, producer, prefix, Object.values(QUEUES));
  const metricsServer = await serveMetrics(registry, config.METRICS_PORT ?? 9464, log, config.METRICS_TOKEN);

  const relay = createOutboxRelay({
    db: outboxClient,
    databaseUrl,
    connection: producer,
    prefix,
    signingKey,
    log,
    pollMs: config.OUTBOX_POLL_MS,
  });
  relay.start();
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
  const queueKeys = startQueueKeyMender({ connection: producer, prefix, queues: Object.values(QUEUES), log });
  log.info("orders worker ready");

  onShutdown(log, async () => {
    await reconciling.stop();
    await queueKeys.stop();
    await requests.close();
    await resultsQueue.close();
    await housekeeping.stop();
    await results.close();
    await positions.stop();
    await relay.stop();
    await queueGauge.close();
    await metricsServer.close();
    connection.disconnect();
    producer.disconnect();
    publisher.disconnect();
    await outboxClient.$disconnect();
    await db.$disconnect();
  });
} catch (err) {
  log.fatal({ err }, "orders worker failed to start");
  process.exit(1);
}
