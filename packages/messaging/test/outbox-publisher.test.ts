// Publishing right after the commit, with the relay as the fallback: against a real Postgres (a fresh
// orders database) and the shared Redis under a unique prefix.
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "@gozon/core/logger";
import { startTcpProxy, waitFor } from "@gozon/core/testing";
import { createSqlPool, type SqlPool } from "@gozon/db/sql-client";
import { createTestDatabases, pagesRead, type TestDatabases } from "@gozon/db/testing";
import { buildMessage } from "../src/contracts.ts";
import { verifyMessage } from "../src/signing.ts";
import { DIRECT_PUBLISH_GRACE_MS, writeOutbox } from "../src/outbox.ts";
import {
  createCommittedPublisher,
  createQueueProducers,
  type QueueProducers,
} from "../src/outbox-publisher.ts";
import { createOutboxRelay } from "../src/outbox-relay.ts";
import { createProducerConnection, createRedisConnection, pingRedis, QUEUES } from "../src/queues.ts";
import { deleteKeysWithPrefix, testSigningKey, uniqueRedisPrefix } from "../test-support/testing.ts";

/**
 * A job's data as a consumer reads it: the message, when it is signed under the run's key (the relay
 * signs the message as the outbox returns it, so the signed text has the JSON column's key order);
 * otherwise why not.
 */
const opened = (data: unknown) => {
  const verified = verifyMessage(testSigningKey, data);
  return verified.ok ? verified.message : verified.error;
};

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const log = createLogger("publisher-test", "silent");

let dbs: TestDatabases;
let db: SqlPool;
let redis: ReturnType<typeof createRedisConnection>;
let queue: Queue;
const prefix = uniqueRedisPrefix("direct");

beforeAll(async () => {
  dbs = await createTestDatabases("direct");
  db = createSqlPool(dbs.urls.orders);
  redis = createRedisConnection(REDIS_URL);
  queue = new Queue(QUEUES.paymentRequests, { connection: redis, prefix });
});
afterAll(async () => {
  await queue?.close();
  if (redis) {
    await deleteKeysWithPrefix(redis, prefix);
    redis.disconnect();
  }
  await db?.$disconnect();
  await dbs?.drop();
});

const request = () =>
  buildMessage("PaymentRequested", { orderId: crypto.randomUUID(), userId: crypto.randomUUID(), amount: 5 });

async function unsent(ids: string[]) {
  const rows = await db.$queryRaw<{ id: string }[]>`
    SELECT id::text FROM outbox WHERE id = ANY(${ids}::uuid[]) AND sent_at IS NULL`;
  return rows.map((r) => r.id);
}

describe("publish after commit", () => {
  it("adds committed messages to their queue in one call and marks their rows sent", async () => {
    const messages = [request(), request(), request()];
    await db.$transaction(async (tx) => {
      for (const m of messages) await writeOutbox(tx, m, { direct: true });
    });
    const producers = createQueueProducers(redis, prefix, log, testSigningKey);
    const publisher = createCommittedPublisher({ db, producers, log, markEveryMs: 60_000 });
    try {
      await publisher.publish(messages);
      const jobs = await Promise.all(messages.map((m) => queue.getJob(m.messageId)));
      expect(jobs.map((j) => opened(j?.data))).toEqual(messages);
      // Marked together later (here: at close), not once per publish.
      expect(await unsent(messages.map((m) => m.messageId))).toHaveLength(3);
    } finally {
      await publisher.close();
      await producers.close();
    }
    expect(await unsent(messages.map((m) => m.messageId))).toEqual([]);
  });

  it("marks published rows sent on its own within markEveryMs", async () => {
    const message = request();
    await writeOutbox(db, message, { direct: true });
    const producers = createQueueProducers(redis, prefix, log, testSigningKey);
    const publisher = createCommittedPublisher({ db, producers, log, markEveryMs: 20 });
    try {
      await publisher.publish([message]);
      await expect.poll(() => unsent([message.messageId]), { timeout: 5_000 }).toEqual([]);
    } finally {
      await publisher.close();
      await producers.close();
    }
  });

  it("publishes what concurrent writers hand in together, and marks every row sent", async () => {
    const messages = Array.from({ length: 40 }, request);
    await Promise.all(messages.map((m) => writeOutbox(db, m, { direct: true })));
    const producers = createQueueProducers(redis, prefix, log, testSigningKey);
    let adds = 0;
    const counted: QueueProducers = {
      ...producers,
      add: (messages, timeoutMs) => (adds++, producers.add(messages, timeoutMs)),
    };
    const publisher = createCommittedPublisher({ db, producers: counted, log });
    try {
      await Promise.all(messages.map((m) => publisher.publish([m])));
    } finally {
      await publisher.close();
      await producers.close();
    }
    const jobs = await Promise.all(messages.map((m) => queue.getJob(m.messageId)));
    expect(jobs.map((j) => opened(j?.data))).toEqual(messages);
    expect(await unsent(messages.map((m) => m.messageId))).toEqual([]);
    // Handed in within one turn of the event loop, as the callers of one commit do: one group, one call.
    expect(adds).toBe(1);
  });

  it("leaves a row it could not publish to the relay, which takes it only after the grace", async () => {
    const message = request();
    await db.$transaction((tx) => writeOutbox(tx, message, { direct: true }));
    // The writer's Redis is away: nothing is added, nothing is marked, and nothing throws.
    const away = new Redis("redis://127.0.0.1:1", { lazyConnect: true, maxRetriesPerRequest: 0 });
    away.on("error", () => {});
    const producers = createQueueProducers(away, prefix, log, testSigningKey);
    const publisher = createCommittedPublisher({ db, producers, log, timeoutMs: 300 });
    await publisher.publish([message]);
    await publisher.close();
    await producers.close().catch(() => {});
    away.disconnect();
    expect(await unsent([message.messageId])).toEqual([message.messageId]);

    const relay = createOutboxRelay({
      db,
      databaseUrl: dbs.urls.orders,
      connection: redis,
      prefix,
      signingKey: testSigningKey,
      log,
      pollMs: 60_000,
    });
    const writtenAt = Date.now();
    try {
      // Inside the grace the relay leaves the row to its writer.
      expect((await relay.relayOnce()).claimed).toBe(0);
      await expect
        .poll(async () => (await relay.relayOnce()).sent, {
          timeout: DIRECT_PUBLISH_GRACE_MS + 5_000,
          interval: 200,
        })
        .toBe(1);
      expect(Date.now() - writtenAt).toBeGreaterThanOrEqual(DIRECT_PUBLISH_GRACE_MS - 500);
    } finally {
      await relay.stop();
    }
    expect(opened((await queue.getJob(message.messageId))?.data)).toEqual(message);
    expect(await unsent([message.messageId])).toEqual([]);
  });
});

describe("mark_outbox_sent", () => {
  // Both services' outboxes have the function (one migration each); the web and the payments worker call it.
  it.each(["orders", "payments"] as const)(
    "%s: marks only rows still unsent, and its reads do not grow with the rows sent before",
    async (service) => {
      const pool = service === "orders" ? db : createSqlPool(dbs.urls.payments);
      const client = await pool.pool.connect();
      try {
        const mark = (ids: string[]) => pagesRead(client, "SELECT mark_outbox_sent($1::uuid[])", [ids]);
        const write = async () => {
          const message = request();
          await writeOutbox(pool, message, { direct: true });
          return message.messageId;
        };
        const stateOf = async (id: string) =>
          (
            await pool.$queryRaw<{ sentAt: Date | null; attempts: number }[]>`
              SELECT sent_at AS "sentAt", attempts FROM outbox WHERE id = ${id}::uuid`
          )[0];

        // A writer's connection plans the function's statement once and keeps the plan: here it is made
        // while the table is small and its statistics fresh, as on a fresh database.
        await client.query("SET plan_cache_mode = force_generic_plan");
        await pool.$executeRaw`ALTER TABLE outbox SET (autovacuum_enabled = false)`;
        const first = await write();
        await pool.$executeRaw`ANALYZE outbox`;
        await mark([first]);
        expect(await stateOf(first)).toMatchObject({ attempts: 1, sentAt: expect.any(Date) });

        // A row the relay sent first keeps its sent_at and its attempts; an unknown id is no error.
        const relayed = await write();
        await pool.$executeRaw`
          UPDATE outbox SET sent_at = now() - interval '1 minute', attempts = 1 WHERE id = ${relayed}::uuid`;
        const before = await stateOf(relayed);
        await mark([relayed, crypto.randomUUID(), relayed]);
        expect(await stateOf(relayed)).toEqual(before);

        // Then 30,000 rows are written and sent: the table grows, and each sent row leaves its unsent
        // entries in the indexes of unsent rows until vacuum (kept away here).
        await pool.$executeRaw`
          INSERT INTO outbox (id, queue, type, payload, relay_after)
          SELECT gen_random_uuid(), 'bulk', 'PaymentRequested', '{}'::jsonb, now() + interval '2 seconds'
          FROM generate_series(1, 30000)`;
        await pool.$executeRaw`UPDATE outbox SET sent_at = now() WHERE queue = 'bulk'`;

        const last = await write();
        // 14 pages here. The one statement it replaced (UPDATE ... WHERE id = ANY($1) AND sent_at IS NULL,
        // in a function so that its plan is kept the same way) read 840: its plan, made just after the
        // ANALYZE of the small table, was a sequential scan. Without that ANALYZE it read 439, through each
        // dead entry of an index of unsent rows.
        expect(await mark([last])).toBeLessThan(40);
        expect(await stateOf(last)).toMatchObject({ attempts: 1, sentAt: expect.any(Date) });
      } finally {
        client.release();
        await pool.$executeRaw`ALTER TABLE outbox RESET (autovacuum_enabled)`;
        if (pool !== db) await pool.$disconnect();
      }
    },
    60_000,
  );
});

describe("queue producers", () => {
  it("a queue whose first connection check was lost with the connection is made anew: adds go out again", async () => {
    const target = new URL(REDIS_URL);
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 6379));
    const connection = createProducerConnection(proxy.route(REDIS_URL), "producers-test");
    const producers = createQueueProducers(connection, prefix, log, testSigningKey);
    const toQueue = (m: ReturnType<typeof request>) => ({
      id: m.messageId,
      type: m.type,
      queue: QUEUES.paymentRequests,
      payload: m,
    });
    try {
      await pingRedis(connection, 5_000);
      // The queue is made by the first add; its check (INFO) never reaches Redis, then the link drops.
      proxy.hold();
      const first = producers.add([toQueue(request())], 10_000);
      await waitFor(() => proxy.heldBytes() > 0, { what: "the queue's first command held" });
      await proxy.cut();
      const [lost] = await first;
      expect(lost?.result.status).toBe("rejected");
      await proxy.restore();
      await pingRedis(connection, 10_000);

      // Redis answers again; as a relay pass would, try again: the message goes out.
      const message = request();
      let sent = false;
      for (let attempt = 0; attempt < 3 && !sent; attempt++) {
        const [outcome] = await producers.add([toQueue(message)], 5_000);
        sent = outcome?.result.status === "fulfilled";
      }
      expect(sent).toBe(true);
      expect(opened((await queue.getJob(message.messageId))?.data)).toEqual(message);
    } finally {
      await producers.close();
      connection.disconnect();
      await proxy.close();
    }
  });
});
