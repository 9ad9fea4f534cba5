// Metrics both workers expose: their outbox backlog, the depth of the queues they touch, and the messages
// they refused as poison.
import { Queue } from "bullmq";
import type { RedisClient } from "@gozon/core/infra/redis-client";
import { Counter, Gauge, type Registry } from "@gozon/core/metrics";
import type { SqlClient } from "./sql.ts";

/** Messages a consumer refused as poison (unsigned, malformed, not matching its order), by queue and reason. */
export function registerPoisonCounter(registry: Registry) {
  return new Counter({
    name: "gozon_poison_messages_total",
    help: "Messages refused as poison (never processed, dead-lettered without retries), by reason",
    labelNames: ["queue", "reason"],
    registers: [registry],
  });
}

/**
 * Unsent outbox rows and the age of the oldest (a growing age means the relay is stuck), and the rows the
 * relay parked (each failed to publish too many times while Redis answered: someone should look).
 */
export function registerOutboxGauges(registry: Registry, db: SqlClient) {
  const read = async () => {
    const [row] = await db.$queryRaw<{ backlog: bigint; age: number | null }[]>`
      SELECT count(*) AS backlog, extract(epoch FROM now() - min(created_at))::float8 AS age
      FROM outbox WHERE sent_at IS NULL AND parked_at IS NULL`;
    return { backlog: Number(row?.backlog ?? 0), age: row?.age ?? 0 };
  };
  new Gauge({
    name: "gozon_outbox_backlog",
    help: "Outbox rows not yet published",
    registers: [registry],
    async collect() {
      this.set((await read()).backlog);
    },
  });
  new Gauge({
    name: "gozon_outbox_oldest_age_seconds",
    help: "Age of the oldest unpublished outbox row",
    registers: [registry],
    async collect() {
      this.set((await read()).age);
    },
  });
  new Gauge({
    name: "gozon_outbox_parked",
    help: "Outbox rows parked after failing to publish too many times",
    registers: [registry],
    async collect() {
      const [row] = await db.$queryRaw<{ parked: bigint }[]>`
        SELECT count(*) AS parked FROM outbox WHERE parked_at IS NOT NULL`;
      this.set(Number(row?.parked ?? 0));
    },
  });
}

/** Jobs per state of each queue (waiting, active, delayed, failed = dead-lettered). */
export function registerQueueDepthGauge(
  registry: Registry,
  connection: RedisClient,
  prefix: string,
  names: string[],
) {
  const queues = names.map((name) => new Queue(name, { connection, prefix }));
  new Gauge({
    name: "gozon_queue_jobs",
    help: "Jobs in a queue by state",
    labelNames: ["queue", "state"],
    registers: [registry],
    async collect() {
      this.reset();
      for (const queue of queues) {
        const counts = await queue.getJobCounts("wait", "active", "delayed", "failed");
        for (const [state, count] of Object.entries(counts)) this.set({ queue: queue.name, state }, count);
      }
    },
  });
  return { close: () => Promise.all(queues.map((q) => q.close())) };
}
