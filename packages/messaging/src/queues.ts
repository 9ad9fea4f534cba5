// Queue names, routing, job options and Redis connections: one place for every producer and consumer.
import type { DefaultJobOptions, Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Config } from "@gozon/core/config";
import {
  createRedisClient,
  isClusterTarget,
  type RedisClient,
  type RedisTarget,
} from "@gozon/core/infra/redis-client";
import type { Logger } from "@gozon/core/logger";
import type { MessageType } from "./contracts.ts";

export const QUEUES = {
  /** Orders → payments: `PaymentRequested`. */
  paymentRequests: "payments.requests",
  /** Payments → orders: `PaymentSucceeded` / `PaymentFailed`. */
  paymentResults: "orders.payment-results",
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/** The queue each queued message type travels on (`OrderStatusChanged` goes over pub/sub, not a queue). */
export const ROUTES = {
  PaymentRequested: QUEUES.paymentRequests,
  PaymentSucceeded: QUEUES.paymentResults,
  PaymentFailed: QUEUES.paymentResults,
} as const satisfies Partial<Record<MessageType, QueueName>>;

export type QueuedMessageType = keyof typeof ROUTES;

/**
 * Retries with exponential backoff (about 30 minutes in all) cover a consumer's database being down;
 * after that the job stays in the failed set and the orders reconciler asks again. Finished jobs are kept
 * for a while: a kept job's id also blocks a re-add of the same message (the inbox is the real guard).
 * `age` is in seconds.
 */
export const defaultJobOptions = {
  attempts: 12,
  backoff: { type: "exponential", delay: 500, jitter: 0.5 },
  removeOnComplete: { age: 60 * 60, count: 50_000 },
  removeOnFail: { age: 7 * 24 * 60 * 60 },
} satisfies DefaultJobOptions;

/**
 * BullMQ's key prefix, under the system's REDIS_PREFIX so several systems (or test runs) share a Redis.
 * In a cluster BullMQ's Lua scripts touch many keys of a queue at once, and those must share a hash slot:
 * BullMQ's documented answer is a hash-tagged prefix, `{gozon}`, which puts every queue of the system on
 * one shard (the pub/sub channels and rate-limit keys still spread over the others).
 */
export function bullPrefix(
  config: Pick<Config, "REDIS_PREFIX"> & Partial<Pick<Config, "REDIS_CLUSTER_NODES">>,
) {
  return isClusterTarget({ REDIS_URL: "", ...config })
    ? `{${config.REDIS_PREFIX}}:bull`
    : `${config.REDIS_PREFIX}:bull`;
}

/**
 * An ioredis connection for BullMQ. `maxRetriesPerRequest: null` is what BullMQ requires for workers
 * (a blocking command must wait through a reconnect rather than fail); producers bound their own waits.
 * With `log`, an outage is logged once when it starts and once when it ends, not at every retry.
 */
export function createRedisConnection(target: RedisTarget, name?: string, log?: Logger): RedisClient;
// Last, so `ReturnType<typeof createRedisConnection>` stays the single-node `Redis` that tests hold.
export function createRedisConnection(url: string, name?: string, log?: Logger): Redis;
export function createRedisConnection(target: string | RedisTarget, name?: string, log?: Logger) {
  const resolved = typeof target === "string" ? { REDIS_URL: target } : target;
  if (!isClusterTarget(resolved) && !/^rediss?:\/\//.test(resolved.REDIS_URL))
    throw new Error(`REDIS_URL must be resolved to a redis:// URL (got ${resolved.REDIS_URL})`);
  const redis = createRedisClient(resolved, { maxRetriesPerRequest: null, connectionName: name });
  let failing = false;
  redis.on("error", (err: Error) => {
    if (!failing) log?.warn({ err, connection: name }, "redis connection failing; retrying");
    failing = true;
  });
  redis.on("ready", () => {
    if (failing) log?.info({ connection: name }, "redis connection restored");
    failing = false;
  });
  return redis;
}

/**
 * PINGs Redis, failing after `timeoutMs`: with `maxRetriesPerRequest: null` a command waits through
 * reconnects for ever, and a process must not sit silently at start when its Redis does not answer.
 */
export async function pingRedis(redis: RedisClient, timeoutMs = 10_000): Promise<void> {
  await withTimeout(redis.ping(), timeoutMs, `Redis did not answer within ${timeoutMs} ms`);
}

// Not "active": a job whose worker was SIGKILLed stays active until BullMQ's stalled check (30 s or more)
// gives it back; asking again recovers sooner, and a backlog that overloads a system waits, not runs.
const IN_FLIGHT_STATES = new Set(["waiting", "delayed", "prioritized", "waiting-children"]);

/**
 * Of these job ids, the ones whose job still waits in `queue` to be picked up (not running, finished,
 * dead-lettered or lost). Bounded by `timeoutMs`, since a caller may be shutting down.
 */
export async function jobsInFlight(queue: Queue, ids: string[], timeoutMs = 5_000): Promise<Set<string>> {
  const states = await withTimeout(
    Promise.all(ids.map((id) => queue.getJobState(id))),
    timeoutMs,
    `${queue.name} did not report job states within ${timeoutMs} ms`,
  );
  return new Set(ids.filter((_, i) => IN_FLIGHT_STATES.has(states[i]!)));
}

/**
 * `promise`, or a rejection with `message` after `timeoutMs`. A late rejection of `promise` is handled
 * (the race listens to it), so it never surfaces as unhandled.
 */
export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
