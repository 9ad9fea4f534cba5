// Overload and faults on the real processes, under a steady stream of orders (see `runOverload`):
// - the orders worker down for a while, then up: the reconciler must not multiply the backlog it finds
//   (re-requests stay a small share of it);
// - Redis away for a while: no process may queue commands without bound meanwhile (each one's RSS stays
//   within a bound of what it was when Redis went away), and what does not need Redis goes on.
// The test suite runs short versions; `npm run overload` runs them at full length.
import fs from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { startTcpProxy, waitFor } from "@gozon/core/testing";
import { audit, countOrders, type Audit } from "./invariants.ts";
import { createShoppers, steadyOrders, waitUntilSettled } from "./load.ts";
import { redisVariables, singleNodeRedis } from "./redis-target.ts";
import { startSystem, type System } from "./system.ts";

export type OverloadOptions = {
  /** Orders placed per second, before, during and after the fault. */
  rate: number;
  shoppers: number;
  /** RECONCILE_AFTER_MS of the orders worker: small, so the reconciler would fire on the backlog. */
  reconcileAfterMs: number;
  log: (line: string) => void;
  /** Where to write every process's output at the end (for a look at what happened). */
  outputFile?: string;
};

export const defaultOverloadOptions: OverloadOptions = {
  rate: 20,
  shoppers: 20,
  reconcileAfterMs: 2_000,
  log: () => {},
};

/** Load before the fault, so every process has warmed up (JIT, pools) before anything is measured. */
const WARM_UP_MS = 3_000;

async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** PaymentRequested messages beyond the first of each order: every one a reconciler's re-request. */
export async function countReRequests(ordersUrl: string): Promise<number> {
  const { rows } = await withClient(ordersUrl, (client) =>
    client.query<{ n: string }>(
      `SELECT count(*) - count(DISTINCT payload #>> '{payload,orderId}') AS n
       FROM outbox WHERE type = 'PaymentRequested'`,
    ),
  );
  return Number(rows[0]!.n);
}

/** Resident set size of a process, in MB (Linux /proc). */
export function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) / 1024;
}

function runningPids(system: System) {
  return new Map([...system.running()].map(([name, proc]) => [name, proc.child.pid!]));
}

export type RssTrack = { startMb: number; peakMb: number; endMb: number };

/** Samples the RSS of `pids` every `everyMs` until `stop()`, which returns each one's start, peak and end. */
function trackRss(pids: Map<string, number>, everyMs = 200) {
  const tracks = new Map<string, RssTrack>();
  const sample = () => {
    for (const [name, pid] of pids) {
      const mb = rssMb(pid);
      const track = tracks.get(name);
      if (!track) tracks.set(name, { startMb: mb, peakMb: mb, endMb: mb });
      else Object.assign(track, { peakMb: Math.max(track.peakMb, mb), endMb: mb });
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return Object.fromEntries(tracks);
    },
  };
}

async function settle(system: System, log: (line: string) => void) {
  const [row] = await withClient(system.dbs.urls.orders, (client) =>
    client.query<{ n: string }>("SELECT count(*) AS n FROM orders"),
  ).then(({ rows }) => rows);
  const total = Number(row!.n);
  log(`waiting for ${total} orders to settle…`);
  await waitUntilSettled(system.dbs.urls, total, 180_000);
  return audit(system.dbs.urls);
}

/** Orders NEW now: the steady load keeps about `rate` of them in flight, a backlog is more. */
const newOrders = async (system: System) => (await countOrders(system.dbs.urls)).NEW;

/** Waits (with the load going on) until the NEW orders are back to what the steady load keeps in flight. */
const drained = (system: System, rate: number) =>
  waitFor(async () => (await newOrders(system)) <= rate, {
    timeoutMs: 180_000,
    intervalMs: 200,
    what: "the backlog to drain",
  });

/** Order changes still waiting for their feed position. */
async function unpositioned(system: System): Promise<number> {
  const { rows } = await withClient(system.dbs.urls.orders, (client) =>
    client.query<{ n: string }>("SELECT count(*) AS n FROM order_changes WHERE position IS NULL"),
  );
  return Number(rows[0]!.n);
}

export type WorkerDownReport = {
  downSeconds: number;
  /** Orders still NEW when the orders worker came back: what the reconciler could multiply. */
  backlog: number;
  /** Re-requests from the moment the worker went down until a few reconciler ages after the drain. */
  reRequests: number;
  /** Milliseconds from the worker's restart until the backlog had drained. */
  drainedMs: number;
};

export type RedisOutageReport = {
  outageSeconds: number;
  /** RSS of each process: when Redis went away (start), at worst until it was back and drained, at the end. */
  rss: Record<string, RssTrack>;
  /** Order changes made during the outage still without a feed position when Redis came back. */
  unpositionedAtRestore: number;
  /** Milliseconds from Redis coming back until the backlog had drained. */
  drainedMs: number;
};

export type OverloadReport = {
  options: Omit<OverloadOptions, "log" | "outputFile">;
  workerDown: WorkerDownReport | null;
  redisOutage: RedisOutageReport | null;
  placed: number;
  audit: Audit;
};

/**
 * One system, its Redis behind a TCP proxy of the run's own, under a steady stream of orders through two
 * faults in turn: the orders worker SIGKILLed for `downSeconds` and started again, then Redis unreachable
 * for `outageSeconds` (0 skips a fault). Then every order settles and every guarantee is audited.
 */
export async function runOverload(
  { downSeconds, outageSeconds }: { downSeconds: number; outageSeconds: number },
  overrides: Partial<OverloadOptions> = {},
): Promise<OverloadReport> {
  const { log, outputFile, ...options } = { ...defaultOverloadOptions, ...overrides };
  // One node: the proxy carries the connections to one address. The parts reach it through the proxy with
  // the environment's password and CA, and so does the run's own connection (deleting its keys).
  const target = singleNodeRedis("the overload run");
  const redis = new URL(target.REDIS_URL);
  const proxy = await startTcpProxy(redis.hostname, Number(redis.port || 6379));
  const system = await startSystem({
    redis: { ...redisVariables(), REDIS_URL: proxy.route(target.REDIS_URL) },
    env: { RECONCILE_AFTER_MS: String(options.reconcileAfterMs) },
  });
  try {
    const shoppers = await createShoppers(system.webUrls, options.shoppers, 41);
    const load = steadyOrders(shoppers, options.rate, { seed: 42 });
    await sleep(WARM_UP_MS);

    let workerDown: WorkerDownReport | null = null;
    if (downSeconds > 0) {
      const before = await countReRequests(system.dbs.urls.orders);
      await system.kill("orders-worker");
      log(`orders worker down for ${downSeconds} s at ${options.rate} orders/s…`);
      await sleep(downSeconds * 1_000);
      const backlog = await newOrders(system);
      const upAt = Date.now();
      await system.start("orders-worker");
      log(`orders worker up again with ${backlog} orders NEW; the load goes on`);
      await drained(system, options.rate);
      const drainedMs = Date.now() - upAt;
      // A few reconciler ages more under load: a re-request of the backlog's tail would show up here.
      await sleep(3 * options.reconcileAfterMs);
      const reRequests = (await countReRequests(system.dbs.urls.orders)) - before;
      workerDown = { downSeconds, backlog, reRequests, drainedMs };
      log(formatWorkerDown(workerDown));
    }

    let redisOutage: RedisOutageReport | null = null;
    if (outageSeconds > 0) {
      const rss = trackRss(runningPids(system));
      await proxy.cut();
      log(`Redis away for ${outageSeconds} s at ${options.rate} orders/s…`);
      await sleep(outageSeconds * 1_000);
      const unpositionedAtRestore = await unpositioned(system);
      await proxy.restore();
      const backAt = Date.now();
      log("Redis back; the load goes on until the backlog has drained");
      await drained(system, options.rate);
      redisOutage = {
        outageSeconds,
        rss: rss.stop(),
        unpositionedAtRestore,
        drainedMs: Date.now() - backAt,
      };
      log(formatRedisOutage(redisOutage));
    }

    const { placed, failed } = await load.stop();
    if (failed > 0) throw new Error(`${failed} orders could not be placed`);
    return { options, workerDown, redisOutage, placed, audit: await settle(system, log) };
  } catch (error) {
    log(system.output().slice(-20_000));
    throw error;
  } finally {
    await system.stop();
    await proxy.close();
    if (outputFile) fs.writeFileSync(outputFile, system.output());
  }
}

/** The bounds the issue sets: re-requests under 1% of the backlog, RSS within 50 MB of its start. */
export const OVERLOAD_BOUNDS = { reRequestShare: 0.01, rssGrowthMb: 50 };

/** Every bound the run broke, and every broken guarantee; empty when all is well. */
export function overloadViolations(r: OverloadReport): string[] {
  const violations = [...r.audit.violations];
  if (r.audit.orders.NEW > 0) violations.push(`${r.audit.orders.NEW} orders still NEW`);
  if (r.workerDown && r.workerDown.reRequests >= OVERLOAD_BOUNDS.reRequestShare * r.workerDown.backlog) {
    violations.push(
      `${r.workerDown.reRequests} re-requests for a backlog of ${r.workerDown.backlog} ` +
        `(bound: under ${OVERLOAD_BOUNDS.reRequestShare * 100}%)`,
    );
  }
  for (const [name, t] of Object.entries(r.redisOutage?.rss ?? {})) {
    if (t.peakMb - t.startMb > OVERLOAD_BOUNDS.rssGrowthMb) {
      violations.push(
        `${name} grew from ${t.startMb.toFixed(0)} to ${t.peakMb.toFixed(0)} MB while Redis was away ` +
          `(bound: ${OVERLOAD_BOUNDS.rssGrowthMb} MB)`,
      );
    }
  }
  return violations;
}

export function formatWorkerDown(r: WorkerDownReport) {
  const share = r.backlog > 0 ? (100 * r.reRequests) / r.backlog : 0;
  return (
    `orders worker down ${r.downSeconds} s: ${r.backlog} orders NEW at its restart, drained in ` +
    `${(r.drainedMs / 1000).toFixed(1)} s; ${r.reRequests} re-requests (${share.toFixed(2)}% of the backlog)`
  );
}

export function formatRedisOutage(r: RedisOutageReport) {
  const lines = Object.entries(r.rss).map(
    ([name, t]) =>
      `  ${name.padEnd(18)} RSS ${t.startMb.toFixed(0)} MB when Redis went away, peak ${t.peakMb.toFixed(0)} MB ` +
      `(+${(t.peakMb - t.startMb).toFixed(0)}), end ${t.endMb.toFixed(0)} MB`,
  );
  return [
    `Redis away ${r.outageSeconds} s: ${r.unpositionedAtRestore} order changes without a feed position when it ` +
      `came back; backlog drained ${(r.drainedMs / 1000).toFixed(1)} s later`,
    ...lines,
  ].join("\n");
}
