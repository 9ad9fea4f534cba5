// payments-worker: payment-request consumer (inbox + processor), payments outbox relay, housekeeping.
import { loadConfigOrExit } from "@gozon/core/config";
import { onShutdown } from "@gozon/core/lifecycle";
import { createLogger } from "@gozon/core/logger";
import { Counter, Histogram } from "@gozon/core/metrics";
import { createPaymentsClient } from "@gozon/db/clients";
import { registerPoisonCounter } from "@gozon/messaging/metrics";
import { createCommittedPublisher, createQueueProducers } from "@gozon/messaging/outbox-publisher";
import { QUEUES } from "@gozon/messaging/queues";
import { closeConsumer } from "@gozon/messaging/consumer-worker";
import { startWorkerProcess } from "@gozon/messaging/worker-process";
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
  const worker = await startWorkerProcess({
    name: "payments-worker",
    service: "payments",
    config,
    log,
    consumers: { paymentRequests: DECIDE_CONNECTIONS },
    background: ["inbox sweep", "purge"],
    outboxClient: createPaymentsClient,
    metricsPort: 9465,
  });
  const { db, connection: redis, prefix, signingKey, registry, relay } = worker;
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
    await closeConsumer(consumer, log); // lets active jobs finish; the inbox makes an interrupted one safe
    await housekeeping.stop();
    await results.close();
    await producers.close();
    await worker.close();
  });
} catch (err) {
  log.fatal({ err }, "payments worker failed to start");
  process.exit(1);
}
