// What both workers run besides their own consumer: the database pool sized for them, the Redis
// connections, the metrics endpoint, the service's outbox relay and the queue key mender. One place, so
// the two processes cannot drift apart in how they start, report and stop.
import { serviceDatabaseUrls, type Config, type Service } from "@gozon/core/config";
import { checkRedisPolicy } from "@gozon/core/infra/redis";
import type { RedisClient } from "@gozon/core/infra/redis-client";
import type { Logger } from "@gozon/core/logger";
import { createRegistry, serveMetrics, type Registry } from "@gozon/core/metrics";
import { poolSizeFor } from "@gozon/db/pool-size";
import { createSqlPool, type SqlPool } from "@gozon/db/sql-client";
import { registerOutboxGauges, registerQueueDepthGauge } from "./metrics.ts";
import { createOutboxRelay, type OutboxRelay } from "./outbox-relay.ts";
import { startQueueKeyMender } from "./queue-keys.ts";
import { bullPrefix, createProducerConnection, createRedisConnection, pingRedis, QUEUES } from "./queues.ts";
import { messageKey, type MessageKey } from "./signing.ts";
import type { TransactionalSqlClient } from "./sql.ts";

export type WorkerProcessOptions = {
  /** `orders-worker` or `payments-worker`: the Redis connections' and the metrics' name. */
  name: string;
  service: Service;
  config: Config;
  log: Logger;
  /** Connections the process's own work may hold at once (see pool-size.ts); the relay's and the gauges' are added. */
  consumers: Record<string, number>;
  background: string[];
  /** The service's Prisma client over `pool`: the relay claims through it (see outbox-relay.ts). */
  outboxClient: (pool: SqlPool["pool"]) => TransactionalSqlClient & { $disconnect(): Promise<void> };
  /** Where /api/metrics listens unless METRICS_PORT says otherwise. */
  metricsPort: number;
};

export type WorkerProcess = {
  databaseUrl: string;
  /** Raw SQL on the hot path: plain `pg` (see sql-client.ts for the cost difference). */
  db: SqlPool;
  /** The consumer's own connection (BullMQ's blocking commands wait on it through a reconnect). */
  connection: RedisClient;
  /** For what the process produces or reads: fails fast while Redis is away instead of queueing. */
  producer: RedisClient;
  prefix: string;
  signingKey: MessageKey;
  registry: Registry;
  relay: OutboxRelay;
  /** Stops what this started; the caller closes its own consumer first. */
  close(): Promise<void>;
};

export async function startWorkerProcess({
  name,
  service,
  config,
  log,
  consumers,
  background,
  outboxClient: makeOutboxClient,
  metricsPort,
}: WorkerProcessOptions): Promise<WorkerProcess> {
  const databaseUrl = serviceDatabaseUrls(config)[service];
  const db = createSqlPool(databaseUrl, {
    max: poolSizeFor({
      consumers,
      background: [...background, "outbox relay", "outbox backlog gauge", "outbox age gauge"],
    }),
  });
  await db.$queryRaw`SELECT 1`;
  const outboxClient = makeOutboxClient(db.pool);
  const connection = createRedisConnection(config, name, log);
  const producer = createProducerConnection(config, `${name}-producer`, log);
  await Promise.all([connection, producer].map((redis) => pingRedis(redis, 5_000)));
  await checkRedisPolicy(connection, log);
  const prefix = bullPrefix(config);
  const signingKey = messageKey(config.MESSAGE_SIGNING_KEY, config.MESSAGE_SIGNING_KEYS_ACCEPTED);

  const registry = createRegistry(name);
  registerOutboxGauges(registry, db);
  const queues = Object.values(QUEUES);
  const queueGauge = registerQueueDepthGauge(registry, producer, prefix, queues);
  const metricsServer = await serveMetrics(
    registry,
    config.METRICS_PORT ?? metricsPort,
    log,
    config.METRICS_TOKEN,
  );
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
  const queueKeys = startQueueKeyMender({ connection: producer, prefix, queues, log });

  return {
    databaseUrl,
    db,
    connection,
    producer,
    prefix,
    signingKey,
    registry,
    relay,
    async close() {
      await queueKeys.stop();
      await relay.stop();
      await queueGauge.close();
      await metricsServer.close();
      connection.disconnect();
      producer.disconnect();
      await outboxClient.$disconnect();
      await db.$disconnect();
    },
  };
}
