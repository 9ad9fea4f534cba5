// Reference (b): a bare BullMQ round trip on the same Redis, with the saga's topology and job options.
// The producer adds a job to queue A; a worker in another process (as the payments worker is) consumes it
// and adds a reply to queue B; a worker back in this process (as the orders worker is) consumes the reply.
// Round trip = from `add` to the reply's processor starting. Worker concurrency matches the saga's
// consumers (payment requests 16, payment results 20). The echo worker also serves the floor: the monolith
// server puts the floor's jobs on queue A and consumes their replies from a queue of their own.
import { randomBytes, randomUUID } from "node:crypto";
import path from "node:path";
import { Queue, Worker } from "bullmq";
import type { RedisTarget } from "@gozon/core/infra/redis-client";
import { startProcess } from "@gozon/core/testing";
import { createRedisConnection, defaultJobOptions } from "@gozon/messaging/queues";
import { deleteKeysWithPrefix } from "@gozon/messaging/testing";
import { redisVariables } from "@gozon/system-tests/redis-target";
import { arrivalSource, closedLoop, openLoop, type LoopResult } from "./loop.ts";

export const ECHO_CONCURRENCY = 16;
export const REPLY_CONCURRENCY = 20;

export type BullmqReference = Awaited<ReturnType<typeof startBullmqReference>>;

/**
 * Where the floor's hops go: the monolith server produces to `requests` and consumes `replies`, on the
 * environment's Redis (as the bench and the echo worker).
 */
export type FloorQueues = { prefix: string; requests: string; replies: string };

/** `redisTarget`: the environment's Redis, which the echo worker process reads from its environment too. */
export async function startBullmqReference(redisTarget: RedisTarget, benchDir: string) {
  const redisPrefix = `bench-${randomBytes(4).toString("hex")}`;
  const prefix = `${redisPrefix}:bull`;
  const queueA = "bench.requests";
  const queueB = "bench.replies";
  const floorQueues: FloorQueues = { prefix, requests: queueA, replies: "bench.floor-replies" };
  const connection = createRedisConnection(redisTarget, "bench-producer");
  const requests = new Queue(queueA, { connection, prefix, defaultJobOptions });
  const waiting = new Map<string, () => void>();
  const replies = new Worker(
    queueB,
    async (job) => {
      const id = (job.data as { id: string }).id;
      waiting.get(id)?.();
      waiting.delete(id);
    },
    { connection, prefix, concurrency: REPLY_CONCURRENCY },
  );
  const echo = startProcess("node", ["--import", "tsx", path.join(benchDir, "src/bullmq-echo.ts")], {
    cwd: benchDir,
    env: {
      ...process.env,
      // The environment's Redis, as this process reaches it (a relative REDIS_TLS_CA made absolute).
      ...redisVariables(),
      BENCH_BULL_PREFIX: prefix,
      BENCH_QUEUE_A: queueA,
      BENCH_QUEUE_B: queueB,
      BENCH_QUEUE_FLOOR_REPLIES: floorQueues.replies,
      BENCH_CONCURRENCY: String(ECHO_CONCURRENCY),
    },
  });

  const close = async () => {
    await echo.stop("SIGTERM");
    await replies.close();
    await requests.close();
    const deleted = await deleteKeysWithPrefix(connection, redisPrefix);
    connection.disconnect();
    return deleted;
  };

  try {
    await Promise.all([echo.waitForOutput(/bullmq echo ready/, 60_000), replies.waitUntilReady()]);
  } catch (error) {
    await close();
    throw error;
  }

  const arrivals = arrivalSource();
  const roundTrip = async () => {
    const id = randomUUID();
    let timer: NodeJS.Timeout | undefined;
    const replied = new Promise<void>((resolve, reject) => {
      waiting.set(id, resolve);
      timer = setTimeout(() => reject(new Error(`no reply to ${id} within 30 s`)), 30_000);
    });
    try {
      await requests.add("request", { id }, { jobId: id });
      await replied;
    } finally {
      clearTimeout(timer);
      waiting.delete(id);
    }
  };

  return {
    redisPrefix,
    floorQueues,
    run: (concurrency: number, seconds: number): Promise<LoopResult> =>
      closedLoop(concurrency, seconds, roundTrip),
    /** Each run continues the arrivals of the one before (the warm-up). */
    runOpen: (rate: number, seconds: number) => openLoop(rate, seconds, roundTrip, arrivals),
    close,
  };
}
