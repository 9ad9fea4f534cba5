// payments-worker: payment-request consumer (inbox + processor), payments outbox relay, housekeeping.
import { loadConfigOrExit, serviceDatabaseUrls } from "@gozon/core/config";
import { checkRedisPolicy } from "@gozon/core/infra/redis";
import { onShutdown } from "@gozon/core/lifecycle";
import { createLogger } from "@gozon/core/logger";
import { createPaymentsClient } from "@gozon/db/clients";
import { poolSizeFor } from "@gozon/db/pool-size";
import { createSqlPool } from "@gozon/db/sql-client";
import { createCommittedPublisher, createQueueProducers } from "@gozon/messaging/outbox-publisher";
import { createOutboxRelay } from "@gozon/messaging/outbox-relay";
import { startQueueKeyMender } from "@gozon/messaging/queue-keys";
import { messageKey } from "@gozon/messaging/signing";
import {
  bullPrefix,
  createProducerConnection,
  createRedisConnection,
  pingRedis,
  QUEUES,
} from "@gozon/messaging/queues";
import { Counter, createRegistry, Histogram, serveMetrics } from "@gozon/core/metrics";
import {
  registerOutboxGauges,
  registerPoisonCounter,
  registerQueueDepthGauge,
} from "@gozon/messaging/metrics";
import { startRequestConsumer } from "./consume-requests.ts";
import { startHousekeeping } from "./housekeeping.ts";

const config = loadConfigOrExit();
// One name per instance (`payments-worker-2`) when the launcher runs several.
const log = createLogger(config.WORKER_NAME ?? "payments-worker", config.LOG_LEVEL);
// Jobs of the payment-requests consumer at once; the database pool is sized from it (see pool-size.ts).
// Jobs in hand at once, so also the largest group: a job waiting for its group holds no connection.
const REQUESTS_CONCURRENCY = 64;
// Requests are decided in groups (group-commit.ts): a group's inbox store and its transaction, one at a
// time, and the one-at-a-time retries of a group that failed.
const DECIDE_CONNECTIONS = 3;

try {
  const databaseUrl = serviceDatabaseUrls(config).payments;
  const db = createSqlPool(databaseUrl, {
    max: poolSizeFor({
      consumers: { paymentRequests: DECIDE_CONNECTIONS },
      background: ["outbox relay", "inbox sweep", "purge", "outbox backlog gauge", "outbox age gauge"],
    }),
  });
  await db.$queryRaw`SELECT 1`;
  // The relay claims through Prisma (see outbox-relay.ts), over the same pool.
  const outboxClient = createPaymentsClient(db.pool);
  // The requests consumer's own connection; the relay and the gauges produce and read on the producer
  // connection, which fails fast while Redis is away instead of queueing.
  const redis = createRedisConnection(config, "payments-worker", log);
  const producer = createProducerConnection(config, "payments-worker-producer", log);
  await Promise.all([redis, producer].map((connection) => pingRedis(connection, 5_000)));
  await checkRedisPolicy(redis, log);
  const prefix = bullPrefix(config);
  const signingKey = messageKey(config.MESSAGE_SIGNING_KEY, config.MESSAGE_SIGNING_KEYS_ACCEPTED);

  const registry = createRegistry("payments-worker");
  const duplicatesDropped = new Counter({
    name: "gozon_inbox_duplicates_dropped_total",
    help: "Payment requests delivered again after the inbox had processed them",
    registers: [registry],
  });
  const groupSize = new Histogram({
    name: "gozon_payment_group_size",
    help: "Payment requests decided per group commit (one transaction)",
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [registry],
  });
  const poison = registerPoisonCounter(registry);
  const groupsFailed = new Counter({
    name: "gozon_payment_groups_failed_total",
    help: "Group commits that failed, whose requests were then decided one by one",
    registers: [registry],
  });
  registerOutboxGauges(registry, db);
  const queueGauge = registerQueueDepthGauge(registry, producer, prefix, Object.values(QUEUES));
  const metricsServer = await serveMetrics(registry, config.METRICS_PORT ?? 9465, log, config.METRICS_TOKEN);

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
  const queueKeys = startQueueKeyMender({ connection: producer, prefix, queues: Object.values(QUEUES), log });
  const producers = createQueueProducers(redis, prefix, log, signingKey);
  const results = createCommittedPublisher({ db, producers, log });
  // Entries stored but never decided first, at any age: only a worker older than receive_payments (which
  // stores and decides in one statement) or a hand-made row leaves them.
  const housekeeping = startHousekeeping({ db, relay, log, retentionDays: config.RETENTION_DAYS });
  await housekeeping.firstSweep;
  const consumer = startRequestConsumer({
    db,
    connection: redis,
    prefix,
    signingKey,
    log,
    onDuplicate: () => duplicatesDropped.inc(),
    onPoison: (reason) => poison.inc({ queue: QUEUES.paymentRequests, reason }),
    onGroup: ({ size, error }) => (error === undefined ? groupSize.observe(size) : groupsFailed.inc()),
    publish: results.publish,
    concurrency: REQUESTS_CONCURRENCY,
  });
  await consumer.waitUntilReady();
  log.info({ prefix }, "payments worker ready");

  onShutdown(log, async () => {
    await consumer.close(); // lets active jobs finish; the inbox makes an interrupted one safe anyway
    await housekeeping.stop();
    await queueKeys.stop();
    await relay.stop();
    await results.close();
    await producers.close();
    await queueGauge.close();
    await metricsServer.close();
    redis.disconnect();
    await outboxClient.$disconnect();
    producer.disconnect();
    await db.$disconnect();
  });
} catch (err) {
  log.fatal({ err }, "payments worker failed to start");
  process.exit(1);
}
