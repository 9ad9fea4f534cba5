import { Queue, Worker } from "bullmq";
import { afterAll, describe, expect, it } from "vitest";
import { startTcpProxy, waitFor } from "@gozon/core/testing";
import {
  createProducerConnection,
  createRedisConnection,
  isRedisStateError,
  jobsInFlight,
  pingRedis,
  unfinishedJobData,
} from "../src/queues.ts";
import { deleteKeysWithPrefix, uniqueRedisPrefix } from "../test-support/testing.ts";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const redis = createRedisConnection(redisUrl);
const prefix = uniqueRedisPrefix("inflight");
const queue = new Queue("inflight", { connection: redis, prefix });

afterAll(async () => {
  await queue.close();
  await deleteKeysWithPrefix(redis, prefix);
  redis.disconnect();
});

describe("jobsInFlight", () => {
  it("reports waiting and delayed jobs, and running or finished ones only while recent; never failed or lost ones", async () => {
    // A job taken by a worker that then dies stays "active" until the stalled check: not counted.
    await queue.add("m", {}, { jobId: "taken-1" });
    const taker = new Worker("inflight", () => new Promise(() => {}), {
      connection: redis.duplicate(),
      prefix,
      autorun: false,
    });
    const taken = await taker.getNextJob("taker-token");
    expect(taken?.id).toBe("taken-1");
    expect(await jobsInFlight(queue, ["taken-1"])).toEqual(new Set());
    // Unless it was taken within `recentMs`: then its effect may still be on its way.
    expect(await jobsInFlight(queue, ["taken-1"], { recentMs: 60_000 })).toEqual(new Set(["taken-1"]));
    await taker.close(true);
    await queue.add("m", {}, { jobId: "waiting-1" });
    await queue.add("m", {}, { jobId: "delayed-1", delay: 60_000 });
    await queue.add("m", {}, { jobId: "done-1" });
    await queue.add("m", {}, { jobId: "failed-1" });
    expect(
      await jobsInFlight(queue, ["waiting-1", "delayed-1", "done-1", "failed-1", "never-added"]),
    ).toEqual(new Set(["waiting-1", "delayed-1", "done-1", "failed-1"]));

    await queue.remove("waiting-1"); // a lost job: Redis no longer has it
    const worker = new Worker(
      "inflight",
      async (job) => {
        if (job.id === "failed-1") throw new Error("dead-lettered");
      },
      { connection: redis.duplicate(), prefix },
    );
    try {
      await waitFor(async () => (await queue.getJobState("failed-1")) === "failed" || undefined, {
        what: "failed-1 failed",
      });
      await waitFor(async () => (await queue.getJobState("done-1")) === "completed" || undefined, {
        what: "done-1 completed",
      });
    } finally {
      await worker.close();
    }
    expect(await jobsInFlight(queue, ["waiting-1", "delayed-1", "done-1", "failed-1"])).toEqual(
      new Set(["delayed-1"]),
    );
    // A job finished within `recentMs` still counts; a dead-lettered one never does.
    const recent = { recentMs: 60_000 };
    expect(await jobsInFlight(queue, ["waiting-1", "done-1", "failed-1"], recent)).toEqual(
      new Set(["done-1"]),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await jobsInFlight(queue, ["done-1"], { recentMs: 10 })).toEqual(new Set());
  });

  it("a job BullMQ cannot read is not in flight once it gave up on it, and does not fail the question", async () => {
    // Options that are not JSON (written by another hand): BullMQ's worker throws before any processor
    // runs, so the job is taken, stalls, and comes back to the queue for ever. A queue of its own: the
    // test above left a stalled check of 30 s (BullMQ's default interval) on its queue.
    const queue = new Queue("unreadable", { connection: redis, prefix });
    await queue.add("m", {}, { jobId: "unreadable", delay: 60_000 });
    await redis.hset(`${prefix}:unreadable:unreadable`, "opts", "{not json");
    await queue.add("m", {}, { jobId: "readable", delay: 60_000 });
    await queue.promoteJobs();
    expect(await jobsInFlight(queue, ["unreadable", "readable"], { recentMs: 60_000 })).toEqual(
      new Set(["unreadable", "readable"]),
    );
    const worker = new Worker("unreadable", async () => {}, {
      connection: redis.duplicate(),
      prefix,
      // Several at once, as the consumers run.
      concurrency: 4,
      lockDuration: 1_000,
      stalledInterval: 500,
    });
    worker.on("error", () => {}); // the unreadable job, each time it is taken
    try {
      await waitFor(async () => (await queue.getJobState("readable")) === "completed" || undefined, {
        what: "readable completed",
      });
      // Stalled more often than allowed: BullMQ marks it to fail, which it never can.
      await waitFor(async () => (await redis.hget(`${prefix}:unreadable:unreadable`, "defa")) ?? undefined, {
        timeoutMs: 20_000,
        what: "BullMQ giving up on the unreadable job",
      });
      expect(["waiting", "active"]).toContain(await queue.getJobState("unreadable"));
      // A key that holds no job at all (a string) is not one either, and fails no question.
      await redis.set(`${prefix}:unreadable:not-a-hash`, "x");
      expect(
        await jobsInFlight(queue, ["unreadable", "readable", "not-a-hash"], { recentMs: 60_000 }),
      ).toEqual(new Set(["readable"]));
    } finally {
      await worker.close();
      await queue.close();
    }
  });
});

describe("unfinishedJobData", () => {
  it("lists the data of waiting, delayed and recently taken jobs, leaving out data that is not JSON", async () => {
    const own = new Queue("unfinished", { connection: redis, prefix });
    try {
      await own.add("m", { n: 1 }, { jobId: "a" });
      await own.add("m", { n: 2 }, { jobId: "b", delay: 60_000 });
      await own.add("m", { n: 3 }, { jobId: "c" });
      await redis.hset(`${prefix}:unfinished:c`, "data", "{not json");
      expect(await unfinishedJobData(own, 10)).toEqual(expect.arrayContaining([{ n: 1 }, { n: 2 }]));
      expect(await unfinishedJobData(own, 10)).toHaveLength(2);

      // Taken by a worker (that then died): counted while it was taken within `recentMs`, not after.
      const taker = new Worker("unfinished", () => new Promise(() => {}), {
        connection: redis.duplicate(),
        prefix,
        autorun: false,
      });
      try {
        expect((await taker.getNextJob("taker-token"))?.id).toBe("a");
      } finally {
        await taker.close(true);
      }
      const minute = { recentMs: 60_000 };
      expect(await unfinishedJobData(own, 10, minute)).toEqual(expect.arrayContaining([{ n: 1 }, { n: 2 }]));
      await redis.hset(`${prefix}:unfinished:a`, "processedOn", String(Date.now() - 120_000));
      expect(await unfinishedJobData(own, 10, minute)).toEqual([{ n: 2 }]);
      expect(await unfinishedJobData(own, 10)).toHaveLength(2); // with no age, any running job counts

      // Neither a job BullMQ gave up on (it stalled too often) nor a key that holds no job.
      await own.add("m", { n: 4 }, { jobId: "d" });
      await own.add("m", { n: 5 }, { jobId: "e" });
      await redis.hset(`${prefix}:unfinished:d`, "defa", "job stalled more than allowable limit");
      await redis.del(`${prefix}:unfinished:e`);
      await redis.set(`${prefix}:unfinished:e`, "not a job");
      expect(await unfinishedJobData(own, 10, minute)).toEqual([{ n: 2 }]);
    } finally {
      await own.close();
    }
  });
});

describe("createProducerConnection", () => {
  it("refuses commands at once while Redis is away, keeping none for later, and serves again once back", async () => {
    const target = new URL(redisUrl);
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 6379));
    const producer = createProducerConnection(proxy.route(redisUrl), "producer-test");
    const producerPrefix = uniqueRedisPrefix("producer");
    const jobs = new Queue("produced", { connection: producer, prefix: producerPrefix });
    try {
      // Commands are refused until the connection is ready; pingRedis waits for that.
      await pingRedis(producer, 5_000);
      await jobs.add("m", {}, { jobId: "before" });

      await proxy.cut();
      await waitFor(() => producer.status !== "ready", { what: "the producer to notice the cut" });
      const started = Date.now();
      const attempts = await Promise.allSettled(
        Array.from({ length: 500 }, (_, i) => jobs.add("m", { i }, { jobId: `during-${i}` })),
      );
      // Each one failed on the spot; none sits in memory waiting for Redis.
      expect(attempts.every((a) => a.status === "rejected")).toBe(true);
      // None waited for Redis to come back (the restore is below); the bound leaves a slow host room.
      expect(Date.now() - started).toBeLessThan(5_000);

      await proxy.restore();
      await pingRedis(producer, 10_000);
      await jobs.add("m", {}, { jobId: "after" });
      // Nothing refused during the outage was replayed when Redis came back.
      expect(await jobs.getJobCounts("wait")).toEqual({ wait: 2 });
    } finally {
      await jobs.close();
      await deleteKeysWithPrefix(redis, producerPrefix);
      producer.disconnect();
      await proxy.close();
    }
  });
});

describe("isRedisStateError", () => {
  it("knows Redis's refusals for its own state, also inside a cluster client's message, and nothing else", () => {
    expect(isRedisStateError(new Error("OOM command not allowed when used memory > 'maxmemory'."))).toBe(
      true,
    );
    expect(isRedisStateError(new Error("READONLY You can't write against a read only replica."))).toBe(true);
    expect(
      isRedisStateError(
        new Error("Too many Cluster redirections. Last error: ReplyError: CLUSTERDOWN The cluster is down"),
      ),
    ).toBe(true);
    expect(
      isRedisStateError(new Error("WRONGTYPE Operation against a key holding the wrong kind of value")),
    ).toBe(false);
    expect(isRedisStateError(new Error("job payload mentions OOM and CLUSTERDOWN"))).toBe(false);
  });
});
