// Queue names, routing, job options and Redis connections: one place for every producer and consumer.
import type { DefaultJobOptions, Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Config } from "@gozon/core/config";
import {
  createRedisClient,
  isClusterTarget,
  type RedisClient,
  type RedisClientOptions,
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
 * How the consumers hold their jobs: a job's lock lives `lockDuration` ms and is renewed every half of it
 * while the job runs, and a live worker gives back the jobs whose lock lapsed every `stalledInterval` ms.
 * With BullMQ's defaults (30 s each) the jobs of a SIGKILLed worker waited 30–60 s; ours take milliseconds,
 * so 10 s and 5 s bring that down to 10–15 s. A job given back is simply run again (the inbox, and settling
 * only from NEW, make that harmless).
 */
export const consumerOptions = { lockDuration: 10_000, stalledInterval: 5_000 } as const;

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
 * An ioredis connection for BullMQ consumers (Workers). `maxRetriesPerRequest: null` is what BullMQ
 * requires of them: a blocking command must wait through a reconnect rather than fail, and so does
 * everything else sent on it, queued in memory while Redis is away. Only what a consumer sends goes on
 * it (a bounded amount: its jobs in hand); producers use `createProducerConnection`.
 * With `log`, an outage is logged once when it starts and once when it ends, not at every retry.
 */
export function createRedisConnection(target: RedisTarget, name?: string, log?: Logger): RedisClient;
// Last, so `ReturnType<typeof createRedisConnection>` stays the single-node `Redis` that tests hold.
export function createRedisConnection(url: string, name?: string, log?: Logger): Redis;
export function createRedisConnection(target: string | RedisTarget, name?: string, log?: Logger) {
  return connect(target, { maxRetriesPerRequest: null, connectionName: name }, log);
}

/**
 * A connection for producers and readers: relays adding jobs, pub/sub publishes, job states and counts.
 * While Redis is away a command fails at once (no offline queue; one sent just before a drop fails with
 * the drop) instead of waiting in memory: a process that keeps producing through an outage would
 * otherwise pile up commands without bound, and its callers would hang instead of retrying later.
 * BullMQ recommends exactly this for Queues; Workers must not use it (see `createRedisConnection`).
 */
export function createProducerConnection(target: RedisTarget, name?: string, log?: Logger): RedisClient;
export function createProducerConnection(url: string, name?: string, log?: Logger): Redis;
export function createProducerConnection(target: string | RedisTarget, name?: string, log?: Logger) {
  return connect(target, { enableOfflineQueue: false, maxRetriesPerRequest: 0, connectionName: name }, log);
}

function connect(target: string | RedisTarget, options: RedisClientOptions, log?: Logger) {
  const resolved = typeof target === "string" ? { REDIS_URL: target } : target;
  if (!isClusterTarget(resolved) && !/^rediss?:\/\//.test(resolved.REDIS_URL))
    throw new Error(`REDIS_URL must be resolved to a redis:// URL (got ${resolved.REDIS_URL})`);
  const redis = createRedisClient(resolved, options);
  const name = options.connectionName;
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
 * Whether Redis refused a command for a state of its own, whatever the command: out of memory under
 * noeviction (which the spec asks for), a replica after a failover, a failed save, still loading, a busy
 * script, a cluster that is down. PING still answers in these states, so it cannot tell them apart from
 * a job that fails on its own.
 */
export function isRedisStateError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  // In a cluster, ioredis reports the refusal inside its own message once its redirections run out
  // ("Too many Cluster redirections. Last error: ReplyError: CLUSTERDOWN The cluster is down").
  return /(^|Last error: (ReplyError: )?)(OOM|READONLY|MISCONF|LOADING|BUSY|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|NOREPLICAS)\b/.test(
    message,
  );
}

/**
 * Waits until the connection is ready, then PINGs it, failing after `timeoutMs`: a process must not sit
 * silently at start when its Redis does not answer, and a producer connection refuses commands until
 * it is ready. With `key`, asks about that key instead: in a cluster a PING goes to any node, which
 * answers while the node that serves the key's slot (the queues', say) is down.
 */
export async function pingRedis(redis: RedisClient, timeoutMs = 10_000, key?: string): Promise<void> {
  let onReady: (() => void) | undefined;
  const ready =
    redis.status === "ready"
      ? Promise.resolve()
      : new Promise<void>((resolve) => redis.once("ready", (onReady = resolve)));
  try {
    await withTimeout(
      ready.then((): Promise<unknown> => (key === undefined ? redis.ping() : redis.exists(key))),
      timeoutMs,
      `Redis did not answer within ${timeoutMs} ms`,
    );
  } finally {
    if (onReady) redis.off("ready", onReady);
  }
}

// Not "active" as such: a job whose worker was SIGKILLed stays active until BullMQ's stalled check (10 s
// or more, see consumerOptions) gives it back; asking again recovers sooner, and a backlog that overloads a system waits, not
// runs. An active or completed job counts only while it is recent (see `recentMs`).
const IN_FLIGHT_STATES = new Set(["waiting", "delayed", "prioritized", "waiting-children"]);
const PICKED_UP_STATES = new Set(["active", "completed"]);

/**
 * Of these job ids, the ones whose job still waits in `queue` to be picked up, or was picked up or
 * finished less than `recentMs` ago (its effect, a reply, may still be on its way); not one that failed
 * (dead-lettered), is lost, was picked up or finished longer ago, or that BullMQ gave up on after it
 * stalled too often (a job it cannot even read comes back to the queue for ever). Bounded by
 * `timeoutMs`, since a caller may be shutting down.
 *
 * The job's fields are read as stored, not through `getJob`: that parses the whole job and throws on one
 * whose data or options are not JSON, which would fail every question about the others.
 */
export async function jobsInFlight(
  queue: Queue,
  ids: string[],
  { timeoutMs = 5_000, recentMs = 0 }: { timeoutMs?: number; recentMs?: number } = {},
): Promise<Set<string>> {
  const inFlight = async (id: string) => {
    const [state, stored] = await Promise.all([
      queue.getJobState(id),
      storedFields(queue, id, ["finishedOn", "processedOn", "defa"]),
    ]);
    if (!stored) return false; // not a job: nothing of ours is on its way
    const [finishedOn, processedOn, gaveUp] = stored;
    if (gaveUp) return false;
    if (IN_FLIGHT_STATES.has(state)) return true;
    if (recentMs <= 0 || !PICKED_UP_STATES.has(state)) return false;
    return within(finishedOn ?? processedOn, recentMs);
  };
  const found = await withTimeout(
    Promise.all(ids.map(inFlight)),
    timeoutMs,
    `${queue.name} did not report job states within ${timeoutMs} ms`,
  );
  return new Set(ids.filter((_, i) => found[i]));
}

/**
 * A job's fields as stored, or null when its key holds something else than a job (a string, say, written
 * by another hand: reading it is refused, and that must not fail the question about the other jobs).
 */
async function storedFields(queue: Queue, id: string, fields: string[]) {
  const client = await queue.backend.client;
  return client.hmget(queue.toKey(id), ...fields).catch(() => null);
}

/** Whether a time BullMQ stored (ms since the epoch) lies within the last `recentMs`: not in the future. */
function within(stamp: string | null | undefined, recentMs: number) {
  const age = Date.now() - Number(stamp);
  return age >= 0 && age < recentMs;
}

/**
 * Jobs ready to be picked up (waiting or prioritized) in all of `queues` together: the backlog the
 * consumers are working through. Delayed jobs are not counted: they wait for a time of their own (a
 * retry's backoff), however many there are, so counting them would hold the reconciler back for as long
 * as a year-long delay says.
 */
export async function waitingJobs(queues: Queue[], timeoutMs = 5_000): Promise<number> {
  const counts = await withTimeout(
    Promise.all(queues.map((queue) => queue.getJobCounts("wait", "prioritized"))),
    timeoutMs,
    `queues did not report their depth within ${timeoutMs} ms`,
  );
  return counts.flatMap((byState) => Object.values(byState)).reduce((sum, n) => sum + n, 0);
}

/**
 * The data of up to `limit` jobs of each unfinished state (waiting, delayed, running) in `queue`; a running
 * job only while it was taken less than `recentMs` ago, as in `jobsInFlight` (one taken longer ago
 * belongs to a worker that died, and waits for a stalled check that may not come); never one BullMQ gave
 * up on. Read as stored, like `jobsInFlight`: a job whose data is not JSON, or a key that holds no job,
 * is left out instead of failing the listing.
 */
export async function unfinishedJobData(
  queue: Queue,
  limit: number,
  { timeoutMs = 5_000, recentMs = Infinity }: { timeoutMs?: number; recentMs?: number } = {},
): Promise<unknown[]> {
  const read = async () => {
    const [queued, running] = await Promise.all([
      queue.getRanges(["waiting", "prioritized", "delayed"], 0, limit - 1, true),
      queue.getRanges(["active"], 0, limit - 1, true),
    ]);
    const ids = [...queued, ...running];
    const jobs = await Promise.all(ids.map((id) => storedFields(queue, id, ["data", "processedOn", "defa"])));
    return jobs.flatMap((stored, i) => {
      if (!stored) return [];
      const [data, processedOn, gaveUp] = stored;
      const taken = i >= queued.length;
      return gaveUp || (taken && !within(processedOn, recentMs)) ? [] : [data];
    });
  };
  const stored = await withTimeout(
    read(),
    timeoutMs,
    `${queue.name} did not list its jobs within ${timeoutMs} ms`,
  );
  return stored.flatMap((text) => {
    try {
      return text == null ? [] : [JSON.parse(text) as unknown];
    } catch {
      return [];
    }
  });
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
