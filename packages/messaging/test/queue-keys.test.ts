import { Queue, Worker } from "bullmq";
import { afterAll, describe, expect, it, vi } from "vitest";
import type { Logger } from "@gozon/core/logger";
import { waitFor } from "@gozon/core/testing";
import { mendQueueKeys, startQueueKeyMender } from "../src/queue-keys.ts";
import { createRedisConnection } from "../src/queues.ts";
import { deleteKeysWithPrefix, uniqueRedisPrefix } from "../test-support/testing.ts";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const redis = createRedisConnection(redisUrl);
const prefix = uniqueRedisPrefix("queue-keys");
const closers: Array<() => Promise<unknown>> = [];

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await deleteKeysWithPrefix(redis, prefix);
  redis.disconnect();
});

function open(name: string) {
  const queue = new Queue(name, { connection: redis.duplicate(), prefix });
  closers.push(() => queue.close());
  return queue;
}

function work(name: string, processor: (job: { id?: string }) => Promise<void>) {
  const worker = new Worker(name, processor, { connection: redis.duplicate(), prefix });
  worker.on("error", () => {}); // what a broken key does to it is the point of the test
  closers.push(() => worker.close(true));
  return worker;
}

/** Every key of a queue with its type and size: what mending must leave as it was. */
async function snapshot(name: string) {
  const keys = (await redis.keys(`${prefix}:${name}:*`)).sort();
  return Promise.all(
    keys.map(async (key) => {
      const type = await redis.type(key);
      const size =
        type === "list"
          ? await redis.llen(key)
          : type === "zset"
            ? await redis.zcard(key)
            : type === "set"
              ? await redis.scard(key)
              : type === "hash"
                ? await redis.hlen(key)
                : type === "stream"
                  ? await redis.xlen(key)
                  : await redis.get(key);
      return { key, type, size };
    }),
  );
}

describe("mendQueueKeys", () => {
  it("deletes the keys of a type BullMQ cannot use, after which the queue takes and runs jobs again", async () => {
    const queue = open("broken");
    const done: string[] = [];
    const worker = work("broken", async (job) => void done.push(job.id!));
    await queue.add("m", {}, { jobId: "before" });
    await waitFor(() => done.includes("before") || undefined, { what: "the first job run" });
    await worker.close();

    const key = (suffix: string) => `${prefix}:broken:${suffix}`;
    const strings = ["marker", "events", "meta", "wait", "active", "delayed", "prioritized", "completed"];
    for (const suffix of strings) {
      await redis.del(key(suffix));
      await redis.set(key(suffix), "garbage");
    }
    await redis.set(key("id"), "garbage");
    await redis.del(key("stalled"));
    await redis.hset(key("stalled"), "a", "b");
    // What it did: no add gets through.
    await expect(queue.add("m", {}, { jobId: "refused" })).rejects.toThrow(/WRONGTYPE|not an integer/);

    const mended = await mendQueueKeys(redis, prefix, "broken");
    expect(mended).toEqual(
      expect.arrayContaining([
        ...strings.map((suffix) => ({ key: key(suffix), held: "string" })),
        { key: key("id"), held: "string, not an integer" },
        { key: key("stalled"), held: "hash" },
      ]),
    );
    expect(mended).toHaveLength(strings.length + 2);

    await queue.add("m", {}, { jobId: "after" });
    work("broken", async (job) => void done.push(job.id!));
    await waitFor(async () => (await queue.getJobState("after")) === "completed" || undefined, {
      what: "a job added after mending completed",
    });
    expect(await mendQueueKeys(redis, prefix, "broken")).toEqual([]);
  });

  it("leaves a queue alone whose keys hold jobs in every state", async () => {
    const queue = open("sound");
    await queue.add("m", {}, { jobId: "done" });
    await queue.add("m", {}, { jobId: "dead" });
    const worker = work("sound", async (job) => {
      if (job.id === "dead") throw new Error("dead-lettered");
    });
    await waitFor(async () => (await queue.getJobState("dead")) === "failed" || undefined, {
      what: "one job failed",
    });
    await waitFor(async () => (await queue.getJobState("done")) === "completed" || undefined, {
      what: "one job completed",
    });
    await worker.close();
    await queue.add("m", {}); // an id of BullMQ's own: the `id` counter
    await queue.add("m", {}, { jobId: "later", delay: 60_000 });
    await queue.add("m", {}, { jobId: "urgent", priority: 1 });
    await queue.add("m", {}, { jobId: "taken" });
    const taker = new Worker("sound", null, { connection: redis.duplicate(), prefix, autorun: false });
    closers.push(() => taker.close(true));
    expect((await taker.getNextJob("taker"))?.id).toBeDefined();

    const before = await snapshot("sound");
    expect(new Set(before.map(({ type }) => type))).toEqual(
      new Set(["hash", "string", "stream", "zset", "list"]),
    );
    expect(await mendQueueKeys(redis, prefix, "sound")).toEqual([]);
    expect(await snapshot("sound")).toEqual(before);
  });
});

describe("startQueueKeyMender", () => {
  it("mends at once and then on its timer, logging each key it deleted", async () => {
    const errors: unknown[][] = [];
    const log = { error: vi.fn((...args: unknown[]) => errors.push(args)) } as unknown as Logger;
    await redis.set(`${prefix}:timed:marker`, "garbage");
    const mender = startQueueKeyMender({ connection: redis, prefix, queues: ["timed"], log, intervalMs: 50 });
    closers.push(() => mender.stop());
    await waitFor(async () => (await redis.exists(`${prefix}:timed:marker`)) === 0 || undefined, {
      what: "the first pass mended the marker",
    });
    await redis.set(`${prefix}:timed:events`, "garbage");
    await waitFor(async () => (await redis.exists(`${prefix}:timed:events`)) === 0 || undefined, {
      what: "a later pass mended the events stream",
    });
    expect(errors.map(([fields]) => (fields as { keys: unknown }).keys)).toEqual([
      [{ key: `${prefix}:timed:marker`, held: "string" }],
      [{ key: `${prefix}:timed:events`, held: "string" }],
    ]);
  });
});
