// The generic outbox relay against a real Postgres (a fresh payments database: any service's outbox has
// the same shape) and the shared Redis under a unique prefix.
import { randomUUID } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Queue, Worker } from "bullmq";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "@gozon/core/logger";
import { freePort, startProcess, waitFor } from "@gozon/core/testing";
import { createSqlPool, type SqlPool } from "@gozon/db/sql-client";
import { createTestDatabases, type TestDatabases } from "@gozon/db/testing";
import { buildMessage } from "../src/contracts.ts";
import { writeOutbox } from "../src/outbox.ts";
import { createOutboxRelay, type OutboxRelay, type OutboxRelayOptions } from "../src/outbox-relay.ts";
import { createRedisConnection, QUEUES } from "../src/queues.ts";
import { deleteKeysWithPrefix, uniqueRedisPrefix } from "../test-support/testing.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const log = createLogger("relay-test", "silent");
const testDir = path.dirname(fileURLToPath(import.meta.url));

let dbs: TestDatabases;
let db: SqlPool;
let redis: ReturnType<typeof createRedisConnection>;
let queue: Queue;
const prefix = uniqueRedisPrefix("relay");
const relays: OutboxRelay[] = [];

beforeAll(async () => {
  dbs = await createTestDatabases("relay");
  db = createSqlPool(dbs.urls.payments);
  redis = createRedisConnection(REDIS_URL);
  queue = new Queue(QUEUES.paymentRequests, { connection: redis, prefix });
});

afterEach(async () => {
  await Promise.all(relays.splice(0).map((relay) => relay.stop()));
  await queue.obliterate({ force: true });
  await db.$executeRaw`DELETE FROM outbox`;
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

function relay(options: Partial<OutboxRelayOptions> = {}) {
  const created = createOutboxRelay({
    db,
    databaseUrl: dbs.urls.payments,
    connection: redis,
    prefix,
    log,
    pollMs: 60_000, // far beyond every deadline below: a prompt publish proves LISTEN/NOTIFY woke it
    ...options,
  });
  relays.push(created);
  return created;
}

async function addMessages(count: number) {
  const messages = Array.from({ length: count }, (_, i) =>
    buildMessage("PaymentRequested", { orderId: randomUUID(), userId: randomUUID(), amount: i + 1 }),
  );
  for (let i = 0; i < messages.length; i += 50) {
    await Promise.all(messages.slice(i, i + 50).map((message) => writeOutbox(db, message)));
  }
  return messages;
}

const unsentCount = async () =>
  Number((await db.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL`)[0]!.n);

describe("outbox relay", () => {
  it("publishes a backlog larger than a batch, each job under its message id, and marks every row sent", async () => {
    const messages = await addMessages(230);
    const started = relay({ batchSize: 100 });
    started.start();
    await waitFor(async () => (await unsentCount()) === 0, { what: "every row sent" });

    for (const message of messages.slice(0, 20)) {
      const job = await queue.getJob(message.messageId);
      expect(job?.name).toBe("PaymentRequested");
      expect(job?.data).toEqual(message);
    }
    expect(await queue.getWaitingCount()).toBe(230);
    const rows = await db.$queryRaw<{ attempts: number; lastError: string | null }[]>`
      SELECT attempts, last_error AS "lastError" FROM outbox`;
    expect(rows.every((row) => row.attempts === 1 && row.lastError === null)).toBe(true);
  });

  it("wakes at once on NOTIFY instead of waiting for its poll", async () => {
    const started = relay();
    started.start();
    await waitFor(() => started.listening, { what: "the relay to LISTEN" });
    await waitFor(async () => (await started.relayOnce()).claimed === 0); // nothing left from before
    const t0 = Date.now();
    const [message] = await addMessages(1);
    await waitFor(() => queue.getJob(message!.messageId), { timeoutMs: 5_000, what: "the job" });
    console.log(`published ${Date.now() - t0} ms after the insert (poll interval 60 s)`);
  });

  it("two relays together publish every one of 2,000 rows written while they run; none is lost", async () => {
    const seen = new Map<string, number>();
    const consumer = new Worker(
      QUEUES.paymentRequests,
      async (job) => {
        seen.set(job.id!, (seen.get(job.id!) ?? 0) + 1);
      },
      { connection: redis.duplicate(), prefix, concurrency: 50 },
    );
    try {
      const a = relay({ batchSize: 50 });
      const b = relay({ batchSize: 50 });
      a.start();
      b.start();
      const t0 = Date.now();
      const messages = await addMessages(2_000);
      await waitFor(() => seen.size === messages.length, { timeoutMs: 60_000, what: "every message" });
      console.log(`2,000 rows through two relays in ${Date.now() - t0} ms`);
      expect(new Set(seen.keys())).toEqual(new Set(messages.map((m) => m.messageId)));
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      expect(await unsentCount()).toBe(0);
    } finally {
      await consumer.close();
    }
  });

  it("keeps a row unsent (attempts, last_error) while Redis does not answer, then sends it", async () => {
    const deadRedis = createRedisConnection(`redis://127.0.0.1:${await freePort()}`, "dead", log);
    try {
      const broken = relay({ connection: deadRedis, addTimeoutMs: 300 });
      broken.start();
      const [message] = await addMessages(1);
      const failed = await waitFor(
        async () =>
          (
            await db.$queryRaw<{ attempts: number; lastError: string | null; sentAt: Date | null }[]>`
              SELECT attempts, last_error AS "lastError", sent_at AS "sentAt" FROM outbox
              WHERE id = ${message!.messageId}::uuid AND attempts >= 2`
          )[0],
        { what: "two failed attempts" },
      );
      expect(failed.sentAt).toBeNull();
      expect(failed.lastError).toMatch(/timed out/);
      await broken.stop();

      relay().start();
      await waitFor(async () => (await unsentCount()) === 0, { what: "the row sent by a healthy relay" });
      expect(await queue.getJob(message!.messageId)).toBeTruthy();
    } finally {
      deadRedis.disconnect();
    }
  });

  it("survives every connection to its database being killed (as in a Postgres restart) and still wakes at once", async () => {
    const started = relay();
    started.start();
    await waitFor(() => started.listening, { what: "the relay to LISTEN" });
    const admin = new pg.Client({ connectionString: dbs.urls.payments });
    await admin.connect();
    try {
      // The listener reconnects within milliseconds, so watch its backend pid rather than its flag.
      const listenerPid = async () =>
        (
          await admin.query<{ pid: number }>(
            `SELECT pid FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'gozon-listen-gozon_outbox'`,
          )
        ).rows[0]?.pid;
      const before = await waitFor(listenerPid, { what: "the listen connection" });
      const killed = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()`,
      );
      expect(killed.rowCount).toBeGreaterThanOrEqual(2); // the LISTEN connection and the pool's
      await waitFor(
        async () => {
          const now = await listenerPid();
          return now !== undefined && now !== before && started.listening;
        },
        { what: "a new listen connection" },
      );
    } finally {
      await admin.end();
    }
    const [message] = await addMessages(1);
    await waitFor(() => queue.getJob(message!.messageId), { timeoutMs: 5_000, what: "the job" });
  });

  it("keeps rows unsent while its Redis is down and sends them once it is back", async () => {
    const port = await freePort();
    const startRedis = () =>
      startProcess("redis-server", ["--port", String(port), "--save", "", "--appendonly", "no"], {
        cwd: testDir,
        env: process.env,
      });
    let server = startRedis();
    await server.waitForOutput(/Ready to accept connections/);
    const privateRedis = createRedisConnection(`redis://127.0.0.1:${port}`, "private", log);
    const privateQueue = new Queue(QUEUES.paymentRequests, { connection: privateRedis, prefix });
    privateQueue.on("error", () => {}); // expected while the server is down
    try {
      const started = relay({ connection: privateRedis, addTimeoutMs: 300 });
      started.start();
      const [before] = await addMessages(1);
      await waitFor(() => privateQueue.getJob(before!.messageId), { what: "the first job" });

      expect(await server.stop("SIGKILL")).toBe("SIGKILL");
      const [during] = await addMessages(1);
      await waitFor(
        async () =>
          (
            await db.$queryRaw<unknown[]>`
              SELECT 1 FROM outbox WHERE id = ${during!.messageId}::uuid AND sent_at IS NULL AND attempts >= 1`
          ).length === 1,
        { what: "a failed attempt while Redis is down" },
      );

      server = startRedis(); // empty: everything queued before is gone, as after a crash without AOF
      await server.waitForOutput(/Ready to accept connections/);
      await waitFor(async () => (await unsentCount()) === 0, { what: "the row sent after the restart" });
      expect(await privateQueue.getJob(during!.messageId)).toBeTruthy();
    } finally {
      await privateQueue.close();
      privateRedis.disconnect();
      await server.stop("SIGKILL");
    }
  });

  it("a relay killed after add and before marking sent leaves the row unsent; the next one re-adds it under the same job id", async () => {
    const [message] = await addMessages(1);
    const crashing = startProcess(
      "node",
      ["--import", "tsx", path.join(testDir, "fixtures/relay-once.ts"), dbs.urls.payments, REDIS_URL, prefix],
      { cwd: testDir, env: { ...process.env, GOZON_FAILPOINTS: "relay-after-add" } },
    );
    expect(await crashing.exited).toBe("SIGKILL");
    expect(crashing.output()).toContain("failpoint relay-after-add: SIGKILL");
    expect(await queue.getJob(message!.messageId)).toBeTruthy();
    // The dead transaction's locks are released as soon as Postgres sees the connection drop.
    await waitFor(async () => (await unsentCount()) === 1, { what: "the row to be unsent and unlocked" });

    const again = relay();
    await waitFor(async () => (await again.relayOnce()).sent === 1, { what: "the second relay's pass" });
    expect(await unsentCount()).toBe(0);
    expect(await queue.getJobCounts("waiting")).toEqual({ waiting: 1 }); // BullMQ ignored the re-add
  });

  it("purges only sent rows older than the retention, in batches", async () => {
    const messages = await addMessages(30);
    const ids = messages.map((m) => m.messageId);
    await db.$executeRaw`UPDATE outbox SET sent_at = now() - interval '8 days' WHERE id = ANY(${ids.slice(0, 12)}::uuid[])`;
    await db.$executeRaw`UPDATE outbox SET sent_at = now() - interval '6 days' WHERE id = ANY(${ids.slice(12, 20)}::uuid[])`;
    await db.$executeRaw`UPDATE outbox SET created_at = now() - interval '30 days' WHERE id = ANY(${ids.slice(20)}::uuid[])`;
    expect(await relay().purgeSent(7, 5)).toBe(12);
    const left = await db.$queryRaw<{ id: string }[]>`SELECT id::text AS id FROM outbox`;
    expect(new Set(left.map((row) => row.id))).toEqual(new Set(ids.slice(12)));
  });
});
