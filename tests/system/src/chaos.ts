// The chaos run: the whole system as real processes (two web instances, both workers, its own
// redis-server) takes a steady stream of orders and top-ups over REST while a fault schedule SIGKILLs
// workers and a web instance, empties Redis, cuts every Postgres session and re-publishes a share of the
// messages. When the load and the faults are over it waits for every order to settle, then checks every
// guarantee from the databases (see `audit` and `deliveryChecks`) and reports what it did and found.
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { Job, Queue } from "bullmq";
import { Redis } from "ioredis";
import pg from "pg";
import { freePort, startProcess, waitFor, type RunningProcess } from "@gozon/core/testing";
import { masters, type RedisClient, type RedisTarget } from "@gozon/core/infra/redis-client";
import { bullPrefix, createRedisConnection, defaultJobOptions, QUEUES } from "@gozon/messaging/queues";
import { signMessage } from "@gozon/messaging/signing";
import { testSigningKey } from "@gozon/messaging/testing";
import { openChaosFeeds, type FeedCheck } from "./chaos-feeds.ts";
import { audit, countOrders, queuesDrained, type Audit } from "./invariants.ts";
import { random } from "./load.ts";
import { startRedisCluster } from "./redis-cluster.ts";
import { ADMIN, startSystem, type System } from "./system.ts";

export type ChaosOptions = {
  shoppers: number;
  orders: number;
  /** Orders (and top-ups) started per second, whatever the system's answers look like. */
  rate: number;
  seed: number;
  /** Instances of each worker; a SIGKILL fault hits one of them (in turn). */
  workers: number;
  /** SIGKILLs (each followed by a restart) of each worker. */
  workerKills: number;
  /** SIGKILLs of the second web instance. */
  webKills: number;
  flushes: number;
  pgCuts: number;
  /** Share (0–1) of the sent outbox messages re-published with a new job id. */
  duplicateShare: number;
  /** Top-ups placed during the load, as a share of the orders. */
  topUpShare: number;
  /** RECONCILE_AFTER_MS of the orders worker. */
  reconcileAfterMs: number;
  /** Requests in flight at most (a backlog beyond it slows the schedule down, and is reported). */
  maxInFlight: number;
  /** How long one request is retried (same Idempotency-Key) before the run counts it as failed. */
  requestDeadlineMs: number;
  settleTimeoutMs: number;
  /** Run on a 3-master Redis Cluster (REDIS_CLUSTER_NODES) instead of one redis-server. */
  redisCluster: boolean;
  /** Progress lines (the CLI prints them; tests may too). */
  log: (line: string) => void;
};

export const defaultChaosOptions: ChaosOptions = {
  shoppers: 20,
  orders: 3000,
  rate: 15,
  seed: 1,
  workers: 1,
  workerKills: 3,
  webKills: 1,
  flushes: 1,
  pgCuts: 1,
  duplicateShare: 0.1,
  topUpShare: 0.05,
  reconcileAfterMs: 3_000,
  maxInFlight: 200,
  requestDeadlineMs: 90_000,
  settleTimeoutMs: 180_000,
  redisCluster: false,
  log: () => {},
};

type FaultKind = "SIGKILL orders-worker" | "SIGKILL payments-worker" | "SIGKILL web" | "FLUSHALL" | "pg cut";

export type FaultEvent = {
  kind: FaultKind;
  /** Milliseconds after the load started. */
  at: number;
  /** When the fault was over (the process restarted and ready), ms after the load started. */
  endedAt: number;
  /**
   * Recovery: how long after the fault was over every order created before the fault had settled
   * (null if that never happened within the settle timeout).
   */
  recoveredMs?: number | null;
  detail?: string;
};

type InjectedDuplicate = {
  jobId: string;
  messageId: string;
  queue: string;
  type: string;
};

export type ChaosReport = {
  options: Omit<ChaosOptions, "log">;
  shoppers: number;
  ordersPlaced: number;
  topUpsPlaced: number;
  loadMs: number;
  achievedRate: number;
  /** How far behind its schedule the load fell at worst (the in-flight cap was reached). */
  maxLagMs: number;
  requests: {
    sent: number;
    retried: number;
    networkErrors: number;
    byStatus: Record<string, number>;
    gaveUp: number;
    reLogins: number;
  };
  audit: Audit;
  faults: FaultEvent[];
  faultCounts: Record<string, number>;
  pgSessionsTerminated: number;
  /** Internal errors the web instances logged (the 5xx answers), by cause. */
  serverErrors: Record<string, number>;
  duplicates: {
    injected: { requests: number; results: number };
    delivered: number;
    lostInFlush: number;
    failed: number;
    extraEffects: number;
    dropped: number;
    /** The payments inbox's own count of duplicates it dropped (worker logs; includes natural ones). */
    inboxDropsLogged: number;
  };
  reRequests: number;
  /** The live feeds held through the run: one per shopper and one admin. */
  liveFeeds: FeedCheck;
  lastFaultAt: number;
  faultsEndedAt: number;
  loadEndedAt: number;
  settledAt: number | null;
  /** settledAt − max(load end, faults end): the figure the bound is about. */
  settleAfterFaultsMs: number | null;
  settleBoundMs: number;
  violations: string[];
  /** Where the processes' output was written, when the run kept it. */
  outputFile?: string;
};

type Shopper = {
  index: number;
  email: string;
  password: string;
  userId: string;
  token: string;
  hasAccount: boolean;
  relogin?: Promise<void>;
};

type Op =
  | { kind: "order"; index: number; shopper: Shopper; amount: number; description: string; key: string }
  | { kind: "top-up"; index: number; shopper: Shopper; amount: number; key: string };

class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`HTTP ${status}: ${body.slice(0, 300)}`);
  }
}

/** A redis-server of the run's own, so FLUSHALL never touches anyone else's data. */
export async function startRedisServer(): Promise<{ url: string; process: RunningProcess }> {
  const port = await freePort();
  const proc = startProcess(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--maxmemory-policy",
      "noeviction",
    ],
    { cwd: process.cwd(), env: process.env },
  );
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 });
  probe.on("error", () => {});
  try {
    await waitFor(
      async () => {
        await probe.connect().catch(() => {});
        return (await probe.ping()) === "PONG";
      },
      { timeoutMs: 15_000, what: "redis-server to answer PING" },
    );
  } catch (error) {
    await proc.stop("SIGKILL");
    throw error;
  } finally {
    probe.disconnect();
  }
  return { url, process: proc };
}

async function pgQuery<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => {}); // a pg cut may end this session too; the query then rejects
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end().catch(() => {});
  }
}

function databaseName(url: string) {
  return decodeURIComponent(new URL(url).pathname.slice(1));
}

/** A shopper-side REST client spread over all web instances, retrying with the same Idempotency-Key. */
function restClient(webUrls: string[], stats: ChaosReport["requests"], deadlineMs: number) {
  let next = 0;
  const count = (status: number | "network") => {
    const key = String(status);
    stats.byStatus[key] = (stats.byStatus[key] ?? 0) + 1;
  };

  async function once(
    base: string,
    method: string,
    path: string,
    body: unknown,
    headers: Record<string, string>,
  ) {
    const res = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(20_000),
    });
    const text = await res.text();
    count(res.status);
    if (!res.ok) throw new HttpStatusError(res.status, text);
    return JSON.parse(text) as unknown;
  }

  const login = async (shopper: Shopper) => {
    shopper.relogin ??= (async () => {
      const session = (await send(null, "POST", "/auth/login", {
        email: shopper.email,
        password: shopper.password,
      })) as { accessToken: string };
      shopper.token = session.accessToken;
      stats.reLogins++;
    })().finally(() => (shopper.relogin = undefined));
    await shopper.relogin;
  };

  /**
   * Sends one request until it gets a 2xx: a network error, a timeout, a 5xx or a 429 is retried
   * (on the next web instance, with the same Idempotency-Key); a 401 signs in again first. Any other
   * 4xx is a bug for the well-formed requests this run sends, and is thrown.
   */
  async function send(
    shopper: Shopper | null,
    method: string,
    path: string,
    body?: unknown,
    idempotencyKey?: string,
  ): Promise<unknown> {
    const deadline = Date.now() + deadlineMs;
    const first = next++;
    for (let attempt = 0; ; attempt++) {
      const base = webUrls[(first + attempt) % webUrls.length] as string;
      const headers: Record<string, string> = {};
      if (shopper) headers.authorization = `Bearer ${shopper.token}`;
      if (idempotencyKey) headers["idempotency-key"] = idempotencyKey;
      stats.sent++;
      if (attempt > 0) stats.retried++;
      try {
        return await once(base, method, path, body, headers);
      } catch (error) {
        if (error instanceof HttpStatusError) {
          if (error.status === 401 && shopper && attempt < 5) {
            await login(shopper).catch(() => {});
            continue;
          }
          if (error.status < 500 && error.status !== 429 && error.status !== 408) throw error;
        } else {
          stats.networkErrors++;
          count("network");
        }
        if (Date.now() > deadline) {
          stats.gaveUp++;
          throw error;
        }
        await sleep(Math.min(100 * (attempt + 1), 1_000));
      }
    }
  }

  return { send };
}

/** Re-publishes a share of the already-sent outbox messages of both services under new job ids. */
function duplicateInjector(system: System, redis: RedisTarget, share: number, seed: number) {
  const rnd = random(seed);
  const connection = createRedisConnection(redis);
  connection.on("error", () => {});
  const prefix = bullPrefix({ ...redis, REDIS_PREFIX: system.redisPrefix });
  const queues = new Map<string, Queue>();
  const queue = (name: string) => {
    let q = queues.get(name);
    if (!q) {
      q = new Queue(name, { connection, prefix, defaultJobOptions });
      q.on("error", () => {});
      queues.set(name, q);
    }
    return q;
  };
  const considered = new Set<string>();
  const injected: InjectedDuplicate[] = [];
  /** Outcomes fixed before a FLUSHALL wiped the jobs (and with them the record of their completion). */
  const fixed = new Map<string, "delivered" | "failed" | "lost">();
  let paused = false;
  const since = new Map<string, Date>();

  async function tick() {
    for (const url of [system.dbs.urls.orders, system.dbs.urls.payments]) {
      if (paused) return;
      // An overlap of a few seconds: a relay's transaction may commit a while after its sent_at.
      const from = new Date((since.get(url)?.getTime() ?? 0) - 5_000);
      const rows = await pgQuery<{
        id: string;
        queue: string;
        type: string;
        payload: unknown;
        sent_at: Date;
      }>(
        url,
        `SELECT id::text AS id, queue, type, payload, sent_at FROM outbox
         WHERE sent_at IS NOT NULL AND sent_at >= $1 ORDER BY sent_at`,
        [from],
      );
      for (const row of rows) {
        if (row.sent_at > (since.get(url) ?? new Date(0))) since.set(url, row.sent_at);
        if (considered.has(row.id)) continue;
        considered.add(row.id);
        if (rnd(0, 9_999) >= share * 10_000) continue;
        const jobId = `dup-${randomUUID()}`;
        // A second delivery as a relay would make it: signed under the system's key (system.ts).
        await queue(row.queue).add(row.type, signMessage(testSigningKey, row.payload as object), { jobId });
        injected.push({ jobId, messageId: row.id, queue: row.queue, type: row.type });
      }
    }
  }

  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const loop = (async () => {
    while (!stopped) {
      running = tick().catch(() => {}); // a pg cut or FLUSHALL may fail one pass; the next goes on
      await running;
      await sleep(300);
    }
  })();

  // A completed job keeps the failedReason of an earlier attempt that was retried (a pg cut, say):
  // only the failed set means the delivery failed for good.
  const failedForGood = async (job: Job) => Boolean(job.failedReason) && (await job.isFailed());

  const jobsOf = async (list: InjectedDuplicate[]) => {
    const jobs: Array<Job | undefined> = [];
    for (let i = 0; i < list.length; i += 50) {
      const batch = list.slice(i, i + 50);
      jobs.push(...(await Promise.all(batch.map((d) => Job.fromId(queue(d.queue), d.jobId)))));
    }
    return jobs;
  };

  return {
    injected,
    /** Records what became of the jobs injected so far, and injects no more until `resume()`. */
    async beforeFlush() {
      paused = true;
      await running;
      const open = injected.filter((d) => !fixed.has(d.jobId));
      const jobs = await jobsOf(open);
      for (const [i, d] of open.entries()) {
        const job = jobs[i];
        // Still queued (or running) when Redis was emptied: that delivery may never happen.
        const outcome = !job?.finishedOn ? "lost" : (await failedForGood(job)) ? "failed" : "delivered";
        fixed.set(d.jobId, outcome);
      }
    },
    resume() {
      paused = false;
    },
    async stop() {
      stopped = true;
      await loop;
      await tick().catch(() => {});
    },
    /** What became of each injected job: completed (delivered), failed, or gone (FLUSHALL). */
    async outcomes() {
      const result = { delivered: 0, lostInFlush: 0, failed: 0, pending: 0 };
      const open = injected.filter((d) => !fixed.has(d.jobId));
      const jobs = await jobsOf(open);
      for (const outcome of fixed.values()) {
        if (outcome === "lost") result.lostInFlush++;
        else result[outcome]++;
      }
      for (const job of jobs) {
        if (!job) result.lostInFlush++;
        else if (job.finishedOn && (await failedForGood(job))) result.failed++;
        else if (job.finishedOn) result.delivered++;
        else result.pending++;
      }
      return result;
    },
    drained: () => queuesDrained(Object.values(QUEUES).map(queue)),
    async close() {
      await Promise.all([...queues.values()].map((q) => q.close()));
      connection.disconnect();
    },
  };
}

/**
 * Checks of the delivery machinery beyond `audit`: the payments inbox processed each message once
 * (every processed entry wrote exactly one result, per order), each order has exactly one payment
 * decision matching its status, every inbox message is a message the orders service sent, and each
 * order changed status once (from the orders worker's logs). Returns the violations and the figures.
 */
async function deliveryChecks(system: System) {
  const { orders: ordersUrl, payments: paymentsUrl } = system.dbs.urls;
  const violations: string[] = [];
  const mismatched = await pgQuery<{ order_id: string; processed: number; results: number }>(
    paymentsUrl,
    `WITH i AS (SELECT payload #>> '{payload,orderId}' AS order_id, count(*)::int AS n
                FROM inbox WHERE processed_at IS NOT NULL GROUP BY 1),
          o AS (SELECT payload #>> '{payload,orderId}' AS order_id, count(*)::int AS n FROM outbox GROUP BY 1)
     SELECT coalesce(i.order_id, o.order_id) AS order_id, coalesce(i.n, 0) AS processed,
            coalesce(o.n, 0) AS results
     FROM i FULL JOIN o ON i.order_id = o.order_id
     WHERE coalesce(i.n, 0) <> coalesce(o.n, 0)`,
  );
  let extraEffects = 0;
  for (const row of mismatched) {
    extraEffects += Math.max(0, row.results - row.processed);
    violations.push(
      `order ${row.order_id}: inbox processed ${row.processed} request(s) but wrote ${row.results} result(s)`,
    );
  }
  const [unprocessed] = await pgQuery<{ n: number }>(
    paymentsUrl,
    "SELECT count(*)::int AS n FROM inbox WHERE processed_at IS NULL",
  );
  if (unprocessed && unprocessed.n > 0) violations.push(`${unprocessed.n} inbox entries never processed`);

  const [inbox, requests, decisions, orders] = await Promise.all([
    pgQuery<{ message_id: string }>(paymentsUrl, "SELECT message_id::text AS message_id FROM inbox"),
    pgQuery<{ id: string; order_id: string }>(
      ordersUrl,
      `SELECT id::text AS id, payload #>> '{payload,orderId}' AS order_id FROM outbox
       WHERE type = 'PaymentRequested'`,
    ),
    pgQuery<{ order_id: string; user_id: string; amount: string; outcome: string; reason: string | null }>(
      paymentsUrl,
      "SELECT order_id::text AS order_id, user_id::text AS user_id, amount, outcome, reason FROM payment_decisions",
    ),
    pgQuery<{ id: string; user_id: string; amount: string; status: string; cancel_reason: string | null }>(
      ordersUrl,
      "SELECT id::text AS id, user_id::text AS user_id, amount, status, cancel_reason FROM orders",
    ),
  ]);
  const sent = new Set(requests.map((r) => r.id));
  const phantom = inbox.filter((m) => !sent.has(m.message_id));
  if (phantom.length > 0) {
    violations.push(
      `${phantom.length} inbox messages the orders service never sent, e.g. ${phantom[0]?.message_id}`,
    );
  }
  const decisionOf = new Map<string, (typeof decisions)[number]>();
  for (const d of decisions) {
    if (decisionOf.has(d.order_id)) violations.push(`order ${d.order_id} has two payment decisions`);
    decisionOf.set(d.order_id, d);
  }
  for (const order of orders) {
    const decision = decisionOf.get(order.id);
    decisionOf.delete(order.id);
    if (!decision) {
      if (order.status !== "NEW") violations.push(`order ${order.id} is ${order.status} without a decision`);
      continue;
    }
    const expected =
      decision.outcome === "SUCCEEDED" ? ["FINISHED", null] : ["CANCELLED", decision.reason ?? null];
    if (order.status !== expected[0] || order.cancel_reason !== expected[1]) {
      extraEffects++;
      violations.push(
        `order ${order.id} is ${order.status}/${order.cancel_reason} but payments decided ${decision.outcome}/${decision.reason}`,
      );
    }
    if (decision.amount !== order.amount || decision.user_id !== order.user_id) {
      violations.push(`order ${order.id}: the decision's user or amount differs from the order`);
    }
  }
  for (const orderId of decisionOf.keys()) violations.push(`payment decision for unknown order ${orderId}`);

  // The orders worker logs each settle with `changed`; a second `changed: true` is a second effect.
  const changes = new Map<string, number>();
  let inboxDropsLogged = 0;
  for (const line of system.output().split("\n")) {
    if (!line.startsWith("{")) continue;
    if (line.includes('"duplicate message dropped"')) inboxDropsLogged++;
    if (!line.includes('"order settled"') || !line.includes('"changed":true')) continue;
    try {
      const { orderId } = JSON.parse(line) as { orderId?: string };
      if (orderId) changes.set(orderId, (changes.get(orderId) ?? 0) + 1);
    } catch {
      // a line cut by SIGKILL
    }
  }
  for (const [orderId, n] of changes) {
    if (n > 1) {
      extraEffects += n - 1;
      violations.push(`order ${orderId} changed status ${n} times`);
    }
  }
  return { violations, extraEffects, inboxDropsLogged, reRequests: requests.length - orders.length };
}

/** What the web instances logged as internal errors (each a 5xx answer), by cause. */
function serverErrorCauses(output: string): Record<string, number> {
  const causes: Record<string, number> = {};
  for (const line of output.split("\n")) {
    if (!line.startsWith("{") || !line.includes('"level":50') || !line.includes('"name":"web"')) continue;
    try {
      const entry = JSON.parse(line) as { msg?: string; err?: { code?: string; message?: string } };
      const message = (entry.err?.message ?? entry.msg ?? "?").replace(/\s+/g, " ").trim();
      const cause = `${entry.err?.code ? `${entry.err.code} ` : ""}${message.slice(-90)}`;
      causes[cause] = (causes[cause] ?? 0) + 1;
    } catch {
      // a line cut by SIGKILL
    }
  }
  return causes;
}

/** The fault plan, as fractions of the load's duration. */
function faultPlan(o: ChaosOptions): Array<{ share: number; kind: FaultKind }> {
  const plan: Array<{ share: number; kind: FaultKind }> = [];
  const spread = (count: number, from: number, to: number) =>
    Array.from({ length: count }, (_, i) => from + ((to - from) * (i + 0.5)) / count);
  for (const share of spread(o.workerKills, 0.02, 0.8)) {
    plan.push({ share: share - 0.06, kind: "SIGKILL payments-worker" });
    plan.push({ share: share + 0.06, kind: "SIGKILL orders-worker" });
  }
  for (const share of spread(o.webKills, 0.3, 0.45)) plan.push({ share, kind: "SIGKILL web" });
  for (const share of spread(o.pgCuts, 0.55, 0.7)) plan.push({ share, kind: "pg cut" });
  // Late, so the run's end depends on the reconciler finding what Redis lost.
  for (const share of spread(o.flushes, 0.8, 0.9)) plan.push({ share, kind: "FLUSHALL" });
  return plan.map((f) => ({ ...f, share: Math.min(Math.max(f.share, 0.01), 0.95) }));
}

let lastOutput: string | undefined;

export async function runChaos(overrides: Partial<ChaosOptions> = {}): Promise<ChaosReport> {
  const o: ChaosOptions = { ...defaultChaosOptions, ...overrides };
  if (!Number.isInteger(o.workers) || o.workers < 1) throw new Error(`workers must be a whole number ≥ 1`);
  const log = o.log;
  const violations: string[] = [];
  const stats: ChaosReport["requests"] = {
    sent: 0,
    retried: 0,
    networkErrors: 0,
    byStatus: {},
    gaveUp: 0,
    reLogins: 0,
  };

  log(
    `starting ${o.redisCluster ? "a 3-master Redis Cluster" : "redis-server"} and the system ` +
      `(2 web instances, ${o.workers} of each worker)…`,
  );
  const redis = await startRedis(o.redisCluster);
  let system: System | undefined;
  const flusher = redis.client();
  flusher.on("error", () => {});
  let injector: ReturnType<typeof duplicateInjector> | undefined;
  let feeds: ReturnType<typeof openChaosFeeds> | undefined;
  const faultTimers: NodeJS.Timeout[] = [];
  try {
    system = await startSystem({
      webInstances: 2,
      ordersWorkers: o.workers,
      paymentsWorkers: o.workers,
      ...redis.system,
      env: { RECONCILE_AFTER_MS: String(o.reconcileAfterMs) },
    });
    const sys = system;
    const client = restClient(sys.webUrls, stats, o.requestDeadlineMs);
    const rnd = random(o.seed);

    // Shoppers: one in ten never opens an account, one in five starts with nothing.
    log(`signing up ${o.shoppers} shoppers…`);
    const shoppers: Shopper[] = [];
    const topUps = new Map<string, { count: number; sum: number }>();
    const addTopUp = (userId: string, amount: number) => {
      const t = topUps.get(userId) ?? { count: 0, sum: 0 };
      topUps.set(userId, { count: t.count + 1, sum: t.sum + amount });
    };
    const plans = Array.from({ length: o.shoppers }, (_, index) => ({
      index,
      hasAccount: index % 10 !== 9,
      topUp: rnd(0, 4) === 0 ? 0 : rnd(1_000, 80_000),
    }));
    const runTag = randomUUID().slice(0, 8);
    for (let i = 0; i < plans.length; i += 10) {
      await Promise.all(
        plans.slice(i, i + 10).map(async (plan) => {
          const email = `chaos-${runTag}-${plan.index}@shop.test`;
          const password = `password-${runTag}`;
          const session = (await client.send(null, "POST", "/auth/register", { email, password })) as {
            user: { id: string };
            accessToken: string;
          };
          const shopper: Shopper = {
            index: plan.index,
            email,
            password,
            userId: session.user.id,
            token: session.accessToken,
            hasAccount: plan.hasAccount,
          };
          if (plan.hasAccount) {
            await client.send(shopper, "POST", "/accounts", undefined, `open-${plan.index}`);
            if (plan.topUp > 0) {
              await client.send(shopper, "POST", "/accounts/me/top-up", { amount: plan.topUp }, "first");
              addTopUp(shopper.userId, plan.topUp);
            }
          }
          shoppers.push(shopper);
        }),
      );
    }
    shoppers.sort((a, b) => a.index - b.index);
    const withAccount = shoppers.filter((s) => s.hasAccount);

    // Live feeds through the whole run; each (re)connect signs in afresh, as a page refreshes its session.
    const signIn = (email: string, password: string) => async () =>
      ((await client.send(null, "POST", "/auth/login", { email, password })) as { accessToken: string })
        .accessToken;
    feeds = openChaosFeeds(
      sys.webUrls,
      shoppers.map((s) => ({ index: s.index, userId: s.userId, token: signIn(s.email, s.password) })),
      signIn(ADMIN.email, ADMIN.password),
    );
    const openFeeds = feeds;
    await waitFor(() => openFeeds.started(), { timeoutMs: 30_000, what: "the live feeds to start" });

    // The operations, in a fixed (seeded) order: M orders and a share of top-ups mixed in.
    const ops: Op[] = [];
    for (let i = 0; i < o.orders; i++) {
      const shopper = shoppers[rnd(0, shoppers.length - 1)] as Shopper;
      ops.push({
        kind: "order",
        index: i,
        shopper,
        amount: rnd(100, 4_000),
        description: `chaos order #${i} ${["🎄", "ёлка", "gift", "שלום", "e\u0301"][i % 5]}`,
        key: `order-${i}`,
      });
      if (withAccount.length > 0 && rnd(0, 9_999) < o.topUpShare * 10_000) {
        const shopper = withAccount[rnd(0, withAccount.length - 1)] as Shopper;
        ops.push({ kind: "top-up", index: i, shopper, amount: rnd(1_000, 20_000), key: `top-up-${i}` });
      }
    }
    const plannedMs = (ops.length / o.rate) * 1_000;

    const orderIds = new Map<string, string>(); // key → order id
    let topUpsPlaced = 0;
    const run = async (op: Op) => {
      try {
        if (op.kind === "order") {
          const { order } = (await client.send(
            op.shopper,
            "POST",
            "/orders",
            { amount: op.amount, description: op.description },
            op.key,
          )) as { order: { id: string; status: string } };
          if (order.status !== "NEW" && order.status !== "FINISHED" && order.status !== "CANCELLED") {
            violations.push(`order ${order.id} created with status ${order.status}`);
          }
          orderIds.set(op.key, order.id);
        } else {
          await client.send(op.shopper, "POST", "/accounts/me/top-up", { amount: op.amount }, op.key);
          addTopUp(op.shopper.userId, op.amount);
          topUpsPlaced++;
        }
      } catch (error) {
        violations.push(`${op.kind} ${op.key} of shopper ${op.shopper.index} failed: ${String(error)}`);
      }
    };

    // Faults: on a timeline relative to the load's start; one at a time per process.
    const faults: FaultEvent[] = [];
    let pgSessionsTerminated = 0;
    const chains = new Map<string, Promise<void>>();
    const loadStart = performance.now();
    const now = () => Math.round(performance.now() - loadStart);
    const dbNames = Object.values(sys.dbs.urls).map(databaseName);
    // Recovery of one fault: poll until no order created before it is NEW.
    const recoveries: Promise<void>[] = [];
    const watchRecovery = async (event: FaultEvent, before: Date) => {
      const deadline = Date.now() + o.settleTimeoutMs;
      while (Date.now() < deadline) {
        const rows = await pgQuery<{ n: number }>(
          sys.dbs.urls.orders,
          "SELECT count(*)::int AS n FROM orders WHERE status = 'NEW' AND created_at < $1",
          [before],
        ).catch(() => [{ n: -1 }]); // a pg cut: ask again
        if (rows[0]?.n === 0) {
          event.recoveredMs = Math.max(0, now() - event.endedAt);
          return;
        }
        await sleep(100);
      }
      event.recoveredMs = null;
    };
    // With several instances of a worker, each SIGKILL hits the next one in turn.
    const kills = { "orders-worker": 0, "payments-worker": 0 };
    const nextVictim = (kind: keyof typeof kills) => `${kind}-${(kills[kind]++ % o.workers) + 1}` as const;
    const inject = async (kind: FaultKind) => {
      let at = now();
      let detail: string | undefined;
      if (kind === "SIGKILL orders-worker" || kind === "SIGKILL payments-worker") {
        const victim = nextVictim(kind === "SIGKILL orders-worker" ? "orders-worker" : "payments-worker");
        await sys.restart(victim);
        if (o.workers > 1) detail = victim;
      } else if (kind === "SIGKILL web") await sys.restart(`web-${sys.webUrls.length - 1}`);
      else if (kind === "FLUSHALL") {
        // Emptied while every payments worker is down, so that payment requests are really queued (and
        // lost): only the reconciler can then bring those orders to an end.
        const payments = Array.from({ length: o.workers }, (_, i) => `payments-worker-${i + 1}` as const);
        await Promise.all(payments.map((name) => sys.kill(name)));
        await sleep(1_500);
        await injector?.beforeFlush();
        at = now();
        // In a cluster FLUSHALL empties one node: every master is emptied (replicas follow them).
        await Promise.all(masters(flusher).map((node) => node.flushall()));
        injector?.resume();
        await Promise.all(payments.map((name) => sys.start(name)));
        detail = `${o.workers > 1 ? "every" : "the"} payments worker SIGKILLed 1.5 s before, restarted after`;
      } else {
        // Two steps: in one WHERE clause Postgres may well call pg_terminate_backend on its own session.
        const sessions = await pgQuery<{ pid: number }>(
          sys.dbs.urls.orders,
          "SELECT pid FROM pg_stat_activity WHERE datname = ANY($1) AND pid <> pg_backend_pid()",
          [dbNames],
        );
        const rows = await pgQuery<{ pid: number }>(
          sys.dbs.urls.orders,
          "SELECT pid FROM unnest($1::int[]) AS pid WHERE pg_terminate_backend(pid)",
          [sessions.map((row) => row.pid)],
        );
        pgSessionsTerminated += rows.length;
        detail = `${rows.length} sessions`;
      }
      const event: FaultEvent = { kind, at, endedAt: now(), detail };
      faults.push(event);
      log(
        `  [${(at / 1000).toFixed(1)} s] ${kind}${detail ? ` (${detail})` : ""}, over after ${now() - at} ms`,
      );
      recoveries.push(watchRecovery(event, new Date(Date.now() - (now() - at))));
    };
    const faultsDone: Promise<void>[] = [];
    for (const { share, kind } of faultPlan(o)) {
      // One fault at a time per process (FLUSHALL stops the payments worker too).
      const target =
        kind === "FLUSHALL" ? "SIGKILL payments-worker" : kind.startsWith("SIGKILL") ? kind : "infra";
      faultsDone.push(
        new Promise<void>((resolve) => {
          faultTimers.push(
            setTimeout(() => {
              const chain = (chains.get(target) ?? Promise.resolve()).then(() =>
                inject(kind).catch((error) => {
                  violations.push(`fault ${kind} could not be injected: ${String(error)}`);
                }),
              );
              chains.set(target, chain);
              void chain.then(resolve);
            }, share * plannedMs),
          );
        }),
      );
    }

    log(
      `load: ${o.orders} orders and ${ops.length - o.orders} top-ups from ${o.shoppers} shoppers at ` +
        `${o.rate}/s (~${(plannedMs / 1000).toFixed(0)} s), ${faultPlan(o).length} faults, ` +
        `${Math.round(o.duplicateShare * 100)}% duplicates`,
    );
    injector = duplicateInjector(sys, redis.target, o.duplicateShare, o.seed + 1);
    let inFlight = 0;
    let maxLagMs = 0;
    const running = new Set<Promise<void>>();
    for (let i = 0; i < ops.length; i++) {
      const due = (i * 1_000) / o.rate;
      const wait = due - (performance.now() - loadStart);
      if (wait > 0) await sleep(wait);
      while (inFlight >= o.maxInFlight) await Promise.race(running);
      maxLagMs = Math.max(maxLagMs, performance.now() - loadStart - due);
      inFlight++;
      const task = run(ops[i] as Op).finally(() => {
        inFlight--;
        running.delete(task);
      });
      running.add(task);
      if (i > 0 && i % Math.max(1, Math.floor(ops.length / 10)) === 0) {
        log(`  [${(now() / 1000).toFixed(1)} s] ${i}/${ops.length} requests started, ${inFlight} in flight`);
      }
    }
    await Promise.all(running);
    const loadEndedAt = now();
    log(`load over after ${(loadEndedAt / 1000).toFixed(1)} s; waiting for the faults to end…`);
    await Promise.all(faultsDone);
    await injector.stop();
    const faultsEndedAt = Math.max(0, ...faults.map((f) => f.endedAt));
    const lastFaultAt = Math.max(0, ...faults.map((f) => f.at));
    const quietFrom = Math.max(loadEndedAt, faultsEndedAt);

    // Settle: no order NEW, and every confirmed order present.
    log(`waiting for ${orderIds.size} orders to settle…`);
    let settledAt: number | null = null;
    try {
      await waitFor(
        async () => {
          const counts = await countOrders(sys.dbs.urls);
          return counts.NEW === 0 && counts.FINISHED + counts.CANCELLED >= orderIds.size;
        },
        { timeoutMs: o.settleTimeoutMs, intervalMs: 100, what: "every order to settle" },
      );
      settledAt = now();
    } catch (error) {
      violations.push(String(error));
    }
    await Promise.all(recoveries);
    for (const f of faults) {
      if (f.recoveredMs === null) {
        violations.push(`orders placed before the ${f.kind} at ${secs(f.at)} never settled`);
      }
    }
    // Then quiet: injected duplicates consumed, outboxes sent, inbox processed — before the audit.
    const inj = injector;
    await waitFor(
      async () => {
        if (!(await inj.drained())) return false;
        const [o1] = await pgQuery<{ n: number }>(
          sys.dbs.urls.orders,
          "SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NULL",
        );
        const [o2] = await pgQuery<{ n: number }>(
          sys.dbs.urls.payments,
          "SELECT (SELECT count(*) FROM outbox WHERE sent_at IS NULL) + (SELECT count(*) FROM inbox WHERE processed_at IS NULL) AS n",
        );
        return Number(o1?.n) === 0 && Number(o2?.n) === 0;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: "queues and outboxes to drain" },
    ).catch((error) => violations.push(String(error)));

    const result = await audit(sys.dbs.urls);
    violations.push(...result.violations);
    const delivery = await deliveryChecks(sys);
    violations.push(...delivery.violations);

    // What the shoppers were told must be exactly what the databases hold.
    const ids = new Set(orderIds.values());
    if (ids.size !== orderIds.size) violations.push("two order requests were answered with the same order");
    const dbOrders = await pgQuery<{ id: string }>(sys.dbs.urls.orders, "SELECT id::text AS id FROM orders");
    const unknown = dbOrders.filter((row) => !ids.has(row.id));
    if (unknown.length > 0) {
      violations.push(
        `${unknown.length} orders exist that no shopper was told about (a retry made a second?)`,
      );
    }
    if (dbOrders.length !== ids.size) {
      violations.push(`${ids.size} orders confirmed to shoppers, ${dbOrders.length} in the database`);
    }
    const ledgerTopUps = await pgQuery<{ user_id: string; n: number; sum: string }>(
      sys.dbs.urls.payments,
      `SELECT user_id::text AS user_id, count(*)::int AS n, sum(amount)::text AS sum
       FROM ledger_entries WHERE kind = 'TOP_UP' GROUP BY user_id`,
    );
    const ledgerBy = new Map(ledgerTopUps.map((r) => [r.user_id, r]));
    for (const shopper of shoppers) {
      const told = topUps.get(shopper.userId) ?? { count: 0, sum: 0 };
      const held = ledgerBy.get(shopper.userId);
      if ((held?.n ?? 0) !== told.count || Number(held?.sum ?? 0) !== told.sum) {
        violations.push(
          `shopper ${shopper.index}: ${told.count} top-ups (${told.sum}) confirmed, ledger has ${held?.n ?? 0} (${held?.sum ?? 0})`,
        );
      }
    }

    const finalStates = await pgQuery<{ id: string; userId: string; status: string }>(
      sys.dbs.urls.orders,
      `SELECT id::text AS id, user_id::text AS "userId", status::text AS status FROM orders`,
    );
    const liveFeeds = await openFeeds.check(finalStates, 30_000);
    violations.push(...liveFeeds.violations);

    const outcome = await inj.outcomes();
    if (outcome.failed > 0) violations.push(`${outcome.failed} injected duplicates failed in their consumer`);
    if (outcome.pending > 0) violations.push(`${outcome.pending} injected duplicates were never consumed`);
    const faultCounts: Record<string, number> = {};
    for (const f of faults) faultCounts[f.kind] = (faultCounts[f.kind] ?? 0) + 1;
    for (const { kind } of faultPlan(o)) faultCounts[kind] ??= 0;

    const settleAfterFaultsMs = settledAt === null ? null : Math.max(0, settledAt - quietFrom);
    const settleBoundMs = o.reconcileAfterMs + 5_000;
    return {
      options: Object.fromEntries(Object.entries(o).filter(([k]) => k !== "log")) as ChaosReport["options"],
      shoppers: shoppers.length,
      ordersPlaced: orderIds.size,
      topUpsPlaced,
      loadMs: loadEndedAt,
      achievedRate: ops.length / (loadEndedAt / 1_000),
      maxLagMs: Math.round(maxLagMs),
      requests: stats,
      audit: result,
      faults,
      faultCounts,
      pgSessionsTerminated,
      serverErrors: serverErrorCauses(sys.output()),
      duplicates: {
        injected: {
          requests: inj.injected.filter((d) => d.queue === QUEUES.paymentRequests).length,
          results: inj.injected.filter((d) => d.queue === QUEUES.paymentResults).length,
        },
        delivered: outcome.delivered,
        lostInFlush: outcome.lostInFlush,
        failed: outcome.failed,
        extraEffects: delivery.extraEffects,
        dropped: outcome.delivered - delivery.extraEffects,
        inboxDropsLogged: delivery.inboxDropsLogged,
      },
      reRequests: delivery.reRequests,
      liveFeeds,
      lastFaultAt,
      faultsEndedAt,
      loadEndedAt,
      settledAt,
      settleAfterFaultsMs,
      settleBoundMs,
      violations,
    };
  } catch (error) {
    if (system) log(system.output().slice(-20_000));
    throw error;
  } finally {
    for (const timer of faultTimers) clearTimeout(timer);
    feeds?.close();
    await injector?.close().catch(() => {});
    flusher.disconnect();
    lastOutput = system?.output();
    await system?.stop().catch(() => {});
    await redis.stop();
  }
}

/**
 * One redis-server, or a 3-master Redis Cluster, of the run's own (the environment's Redis settings play no
 * part: startSystem gives the parts this Redis alone); how to reach it, and how to stop it.
 */
async function startRedis(cluster: boolean): Promise<{
  target: RedisTarget;
  system: { redisUrl?: string; redisClusterNodes?: string };
  client: () => RedisClient;
  stop: () => Promise<void>;
}> {
  if (cluster) {
    const started = await startRedisCluster({ masters: 3 });
    const target: RedisTarget = {
      REDIS_URL: "redis://127.0.0.1:1", // unused: the cluster wins
      REDIS_CLUSTER_NODES: started.nodes.map(({ port }) => ({ host: "127.0.0.1", port, tls: false })),
    };
    return {
      target,
      system: { redisClusterNodes: started.nodesEnv },
      client: () => createRedisConnection(target),
      stop: started.stop,
    };
  }
  const server = await startRedisServer();
  const target: RedisTarget = { REDIS_URL: server.url };
  return {
    target,
    system: { redisUrl: server.url },
    client: () => createRedisConnection(target),
    stop: async () => void (await server.process.stop("SIGKILL")),
  };
}

/** Everything the last run's processes printed (for a failing run's diagnostics). */
export function lastRunOutput() {
  return lastOutput ?? "";
}

const secs = (ms: number | null) => (ms === null ? "—" : `${(ms / 1000).toFixed(1)} s`);

/** The report as a two-column table. */
export function formatChaosReport(r: ChaosReport): string {
  const a = r.audit;
  const statuses = Object.entries(r.requests.byStatus)
    .filter(([status]) => status !== "200" && status !== "201")
    .map(([status, n]) => `${status}×${n}`)
    .join(", ");
  const rows: Array<[string, string]> = [
    ["shoppers", `${r.shoppers} (seed ${r.options.seed})`],
    ["workers", `${r.options.workers} of each (orders, payments)`],
    [
      "orders",
      `${a.orders.total}: FINISHED ${a.orders.FINISHED}, CANCELLED ${a.orders.CANCELLED} ` +
        `(NO_ACCOUNT ${a.cancelled.NO_ACCOUNT}, INSUFFICIENT_FUNDS ${a.cancelled.INSUFFICIENT_FUNDS}), NEW ${a.orders.NEW}`,
    ],
    ["top-ups during the load", String(r.topUpsPlaced)],
    [
      "load",
      `${secs(r.loadMs)} at ${r.achievedRate.toFixed(1)} req/s (asked ${r.options.rate}/s; worst lag ${secs(r.maxLagMs)})`,
    ],
    [
      "requests",
      `${r.requests.sent} sent, ${r.requests.retried} retried, ${r.requests.gaveUp} gave up; ` +
        `not 2xx: ${statuses || "none"}; re-logins ${r.requests.reLogins}`,
    ],
    ...Object.entries(r.serverErrors).map(([cause, n]): [string, string] => [
      "5xx cause (web log)",
      `${n}× ${cause}`,
    ]),
    ...Object.entries(r.faultCounts).map(([kind, n]): [string, string] => {
      const of = r.faults.filter((f) => f.kind === kind);
      const down = Math.max(0, ...of.map((f) => f.endedAt - f.at));
      const recovery = Math.max(0, ...of.map((f) => f.recoveredMs ?? Infinity));
      return [
        `fault: ${kind}`,
        `${n}${kind === "pg cut" ? ` (${r.pgSessionsTerminated} sessions terminated)` : ""}` +
          (n > 0
            ? `; worst: over after ${secs(down)}, earlier orders all settled ${secs(recovery)} later`
            : ""),
      ];
    }),
    [
      "duplicates injected",
      `${r.duplicates.injected.requests + r.duplicates.injected.results} ` +
        `(${r.duplicates.injected.requests} payment requests, ${r.duplicates.injected.results} payment results)`,
    ],
    [
      "duplicates delivered",
      `${r.duplicates.delivered} (${r.duplicates.lostInFlush} lost in FLUSHALL, ${r.duplicates.failed} failed)`,
    ],
    [
      "duplicates dropped",
      `${r.duplicates.dropped} (extra effects ${r.duplicates.extraEffects}; inbox logged ${r.duplicates.inboxDropsLogged} drops)`,
    ],
    ["reconciler re-requests", String(r.reRequests)],
    [
      "live feeds",
      `${r.liveFeeds.subscribers} subscribers (one per shopper, one admin) through the faults: ` +
        `${r.liveFeeds.events} events; missed, foreign or repeated: ${r.liveFeeds.violations.length}`,
    ],
    ["double debits", String(a.violations.filter((v) => v.includes("debits")).length)],
    [
      "time to settle",
      `${secs(r.settleAfterFaultsMs)} after the load and faults ended ` +
        `(last fault at ${secs(r.lastFaultAt)}, faults over at ${secs(r.faultsEndedAt)}, load over at ${secs(r.loadEndedAt)}); ` +
        `bound RECONCILE_AFTER_MS + 5 s = ${secs(r.settleBoundMs)}` +
        (r.settleAfterFaultsMs !== null && r.settleAfterFaultsMs > r.settleBoundMs
          ? " (OVER the bound)"
          : ""),
    ],
    ["violations", String(r.violations.length)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
  const shown = r.violations.slice(0, 20).map((v) => `    - ${v}`);
  if (r.violations.length > shown.length) shown.push(`    … and ${r.violations.length - shown.length} more`);
  return [
    `Chaos run: ${r.options.orders} orders from ${r.options.shoppers} shoppers` +
      (r.options.redisCluster ? " on a 3-master Redis Cluster" : ""),
    ...lines,
    ...shown,
  ].join("\n");
}
