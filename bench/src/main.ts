// `npm run bench`: the real system driven over REST at several concurrency levels, against references
// measured in the same run on the same machine — a monolith doing the whole order in one transaction
// behind the same HTTP API, the same business effect as a bare Postgres transaction, a bare BullMQ round
// trip, and at half load the floor (the monolith's order, two BullMQ hops and a WebSocket push) — then a
// hop-by-hop profile of where an order's time goes.
// Prints tables; writes bench/results/<date>.json and .svg (and latest.json/.svg).
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { format, resolveConfig } from "prettier";
import { testServerUrl } from "@gozon/db/testing";
import type { RedisTarget } from "@gozon/core/infra/redis-client";
import { bullPrefix, createRedisConnection } from "@gozon/messaging/queues";
import { deleteKeysWithPrefix } from "@gozon/messaging/testing";
import { apiClient } from "@gozon/system-tests/client";
import { audit } from "@gozon/system-tests/invariants";
import { singleNodeRedis } from "@gozon/system-tests/redis-target";
import { ADMIN, startSystem, type System } from "@gozon/system-tests/system";
import { startBullmqReference, type BullmqReference } from "./bullmq-reference.ts";
import { renderChart, SERIES, type ChartPoint } from "./chart.ts";
import { openSettleFeed, type SettleFeed } from "./feed.ts";
import { cpuProfileEnv, summarizeProfile, toggleProfilers, type CpuBreakdown } from "./cpu-profile.ts";
import {
  cpuMsPerOperation,
  CpuMeter,
  type CpuUsage,
  machineInfo,
  perOperation,
  sampleRss,
  systemCpuGroups,
  systemPids,
} from "./machine.ts";
import type { LoopResult } from "./loop.ts";
import { HOPS, hopProfile, readStamps } from "./profile.ts";
import {
  caveatLines,
  comparisonRows,
  COMPARISON_HEADERS,
  cpuRows,
  HALF_LOAD_HEADERS,
  halfLoadRows,
  hopRows,
  machineLine,
  markdownTable,
  profileGrowthLines,
  slowestRows,
  table,
  targetLines,
} from "./report.ts";
import { floorReference } from "./floor-reference.ts";
import { startMonolithReference, type MonolithReference } from "./monolith-reference.ts";
import { createShoppers, SagaDriver, type OrderSample, type SagaResult } from "./saga.ts";
import { ratio } from "./stats.ts";
import { startSyncReference, type SyncReference } from "./sync-reference.ts";
import { costVsMax, judgeTargets, systemCpuPerOrder } from "./targets.ts";
import type { BenchReport, HalfLoadReference, LevelReport, SagaSummary } from "./types.ts";

const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const repoRoot = path.resolve(benchDir, "..");

const HELP = `npm run bench [-- options]   (each option also reads the environment variable shown)

  --levels 1,4,16,64     requests in flight per step                      BENCH_LEVELS
  --seconds 10           saga run per level, seconds                      BENCH_SECONDS
  --ref-seconds 5        each reference per level, seconds                BENCH_REF_SECONDS
  --half-seconds 30      open-loop run at half the max throughput         BENCH_HALF_SECONDS (0 skips)
  --half-rate N          offer N orders/s in that run instead (to compare BENCH_HALF_RATE
                         two builds at one rate; target 2 is then not judged)
  --warmup 4             untimed warm-up of the system, seconds, and      BENCH_WARMUP_SECONDS
                         before each half-load run at its rate
  --shoppers N           shoppers (default: the highest level)            BENCH_SHOPPERS
  --workers 1            orders and payments workers (N of each)           BENCH_WORKERS
  --pool 10              sync and monolith references' pool size          BENCH_POOL_MAX
                         (services use 10)
  --out DIR              where results go (default bench/results)         BENCH_OUT
  --no-save              print only; write no files
  --cpu-profile          V8 CPU profiles of the system's processes during BENCH_CPU_PROFILE=1
                         the highest level's saga run and the half-load
                         run, summed by package, and where an order's CPU
                         grows between them (adds profiling overhead to
                         both runs, so the half-load rate is lower)
  --build                run the turbo build first (done anyway when the web app has never been built)
  --render FILE.json     measure nothing: rewrite the chart and latest.* from a saved result`;

function options() {
  const { values } = parseArgs({
    options: {
      levels: { type: "string" },
      seconds: { type: "string" },
      "ref-seconds": { type: "string" },
      "half-seconds": { type: "string" },
      "half-rate": { type: "string" },
      warmup: { type: "string" },
      shoppers: { type: "string" },
      workers: { type: "string" },
      pool: { type: "string" },
      out: { type: "string" },
      "no-save": { type: "boolean" },
      "cpu-profile": { type: "boolean" },
      build: { type: "boolean" },
      render: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const number = (value: string | undefined, env: string, fallback: number, min = 0) => {
    const raw = value ?? process.env[env];
    const parsed = raw === undefined || raw === "" ? fallback : Number(raw);
    if (!Number.isFinite(parsed) || parsed < min) throw new Error(`${env} must be a number ≥ ${min}`);
    return parsed;
  };
  const levels = (values.levels ?? process.env.BENCH_LEVELS ?? "1,4,16,64")
    .split(",")
    .map((s) => Number(s.trim()));
  if (levels.length === 0 || levels.some((l) => !Number.isInteger(l) || l < 1 || l > 1000)) {
    throw new Error("BENCH_LEVELS must be a comma-separated list of integers 1..1000");
  }
  levels.sort((a, b) => a - b);
  const maxLevel = levels[levels.length - 1] as number;
  return {
    levels,
    sagaSeconds: number(values.seconds, "BENCH_SECONDS", 10, 1),
    refSeconds: number(values["ref-seconds"], "BENCH_REF_SECONDS", 5, 1),
    halfSeconds: number(values["half-seconds"], "BENCH_HALF_SECONDS", 30, 0),
    halfRate: number(values["half-rate"], "BENCH_HALF_RATE", 0, 0) || null,
    warmupSeconds: number(values.warmup, "BENCH_WARMUP_SECONDS", 4, 0),
    shoppers: Math.round(number(values.shoppers, "BENCH_SHOPPERS", maxLevel, 1)),
    workers: Math.round(number(values.workers, "BENCH_WORKERS", 1, 1)),
    poolMax: Math.round(number(values.pool, "BENCH_POOL_MAX", Number(process.env.DB_POOL_MAX ?? 10), 1)),
    out: path.resolve(values.out ?? process.env.BENCH_OUT ?? path.join(benchDir, "results")),
    save: !values["no-save"],
    cpuProfile: values["cpu-profile"] ?? process.env.BENCH_CPU_PROFILE === "1",
    build: values.build ?? false,
    render: values.render,
  };
}

const log = (message: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

/** The web app serves its pages from a Next.js build and the services need the generated Prisma clients. */
function ensureBuilt(force: boolean) {
  const built =
    fs.existsSync(path.join(repoRoot, "apps/web/.next/BUILD_ID")) &&
    fs.existsSync(path.join(repoRoot, "packages/db/src/generated/orders"));
  if (built && !force) return;
  log("building (turbo run build)…");
  const result = spawnSync("npx", ["turbo", "run", "build", "--output-logs=errors-only"], {
    cwd: repoRoot,
    stdio: "inherit",
  });
  if (result.status !== 0) throw new Error("the build failed");
}

async function serverVersions(redisTarget: RedisTarget) {
  const client = new pg.Client({ connectionString: testServerUrl() });
  await client.connect();
  const redis = createRedisConnection(redisTarget, "bench-info");
  try {
    const postgres = (await client.query<{ v: string }>("SELECT current_setting('server_version') AS v"))
      .rows[0]?.v;
    const info = await redis.info("server");
    return {
      postgres: postgres ? `PostgreSQL ${postgres.split(" ")[0]}` : undefined,
      redis: /redis_version:(\S+)/.exec(info)?.[1],
    };
  } finally {
    await client.end();
    redis.disconnect();
  }
}

const withoutSamples = ({ samples: _samples, ...rest }: SagaResult): SagaSummary => rest;

async function main() {
  const opts = options();
  if (opts.render) {
    const report = JSON.parse(fs.readFileSync(opts.render, "utf8")) as BenchReport;
    if (!report.targets.throughputVsMonolith) {
      throw new Error(`${opts.render} was saved before the monolith reference existed: run the bench again`);
    }
    print(report);
    await save(report, opts.out);
    return;
  }
  const startedAt = new Date();
  // The system's Redis as the system reads it (password, CA); the bench's own connections and its
  // references' processes reach it the same way. One node: the references' queue prefixes are not
  // hash-tagged for a cluster.
  const redisTarget = singleNodeRedis("the bench");
  const cleanups: Array<{ what: string; run: () => Promise<unknown> }> = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      for (const step of cleanups.reverse()) {
        try {
          await step.run();
        } catch (error) {
          console.error(`cleanup (${step.what}) failed:`, error);
        }
      }
    })());
  process.once("SIGINT", () => {
    log("interrupted: cleaning up…");
    void cleanup().finally(() => process.exit(130));
  });

  try {
    ensureBuilt(opts.build);
    const meter = new CpuMeter(systemCpuGroups(repoRoot));
    const idleStart = meter.sample();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const idle = { cpu: meter.usage(idleStart, meter.sample()), loadavg: os.loadavg() };
    const machine = machineInfo(await serverVersions(redisTarget));
    log(`machine: ${machineLine(machine)}`);
    log(`before start: ${idle.cpu?.machine ?? "?"} cores busy (load ${idle.loadavg[0]?.toFixed(2)})`);

    // The bench names the system's Redis prefix itself, so its keys are deleted even if the start fails.
    const systemPrefix = `bench-sys-${randomBytes(4).toString("hex")}`;
    cleanups.push({
      what: "system Redis keys",
      run: async () => {
        const redis = createRedisConnection(redisTarget, "bench-cleanup");
        try {
          const deleted = await deleteKeysWithPrefix(redis, systemPrefix);
          log(`deleted ${deleted} Redis keys under ${systemPrefix}:`);
        } finally {
          redis.disconnect();
        }
      },
    });
    log(`starting the system (1 web instance, ${opts.workers} of each worker)…`);
    // The system logs at info (its default; its readiness lines are info lines).
    const profileDir = opts.cpuProfile ? fs.mkdtempSync(path.join(os.tmpdir(), "gozon-cpu-")) : null;
    const system: System = await startSystem({
      webInstances: 1,
      ordersWorkers: opts.workers,
      paymentsWorkers: opts.workers,
      // On the environment's Redis (startSystem's default), the one `redisTarget` reaches.
      env: {
        REDIS_PREFIX: systemPrefix,
        LOG_LEVEL: "info",
        ...(profileDir ? cpuProfileEnv(benchDir, profileDir) : {}),
      },
    });
    cleanups.push({ what: "system", run: () => system.stop() });
    const web = system.webUrls[0] as string;

    const { accessToken } = await apiClient(web).login(ADMIN.email, ADMIN.password);
    const feed: SettleFeed = await openSettleFeed(web, accessToken);
    cleanups.push({ what: "admin feed", run: async () => feed.close() });

    log(`signing up ${opts.shoppers} shoppers…`);
    const shoppers = await createShoppers(web, opts.shoppers);
    const driver = new SagaDriver(shoppers, feed);

    log("starting the references (monolith, scratch databases, BullMQ echo worker)…");
    const sync: SyncReference = await startSyncReference(opts.shoppers, opts.poolMax);
    cleanups.push({ what: "sync reference database", run: () => sync.close() });
    const bullmq: BullmqReference = await startBullmqReference(redisTarget, benchDir);
    cleanups.push({
      what: "BullMQ reference",
      run: async () => log(`deleted ${await bullmq.close()} Redis keys under ${bullmq.redisPrefix}:`),
    });
    const monolith: MonolithReference = await startMonolithReference({
      userIds: shoppers.map((s) => s.userId),
      poolMax: opts.poolMax,
      benchDir,
      floor: bullmq.floorQueues,
    });
    cleanups.push({ what: "monolith reference", run: () => monolith.close() });

    if (opts.warmupSeconds > 0) {
      log(`warming up for ${opts.warmupSeconds} s (not measured)…`);
      await driver.closedLoop(Math.min(4, opts.levels[opts.levels.length - 1] as number), opts.warmupSeconds);
      await sync.run(4, 1);
      await monolith.run(4, 1);
      await bullmq.run(4, 1);
    }

    const pids = systemPids(repoRoot);
    const rssPids = new Map([...pids, ["bench driver", process.pid]]);
    const measure = async <T>(run: () => Promise<T>) => {
      const start = meter.sample();
      const rss = sampleRss(rssPids);
      const began = performance.now();
      const value = await run();
      const end = meter.sample();
      return {
        value,
        cpu: meter.usage(start, end),
        syscalls: meter.syscalls(start, end),
        sleeps: meter.sleeps(start, end),
        waits: meter.waits(start, end),
        peakRssMb: rss.stop(),
        seconds: (performance.now() - began) / 1000,
      };
    };

    /**
     * Runs `run`, under the system's profilers when --cpu-profile asked and `wanted`: its result and where
     * the CPU went (null when not profiled).
     */
    const profiled = async <T>(
      run: () => Promise<T>,
      wanted = true,
    ): Promise<{ value: T; breakdown: CpuBreakdown[] | null }> => {
      if (profileDir === null || !wanted) return { value: await run(), breakdown: null };
      const before = new Set(fs.readdirSync(profileDir));
      await toggleProfilers([...pids.values()], profileDir, false);
      const value = await run();
      await toggleProfilers([...pids.values()], profileDir, true);
      const written = fs.readdirSync(profileDir).filter((f) => !before.has(f));
      const breakdown = [...pids].map(([name, pid]) => {
        const file = written.find((f) => f.startsWith(`${pid}-`)) as string;
        return summarizeProfile(path.join(profileDir, file), name, repoRoot, 20);
      });
      log(`CPU profiles (open them in Chrome DevTools): ${profileDir}`);
      return { value, breakdown };
    };

    const levels: LevelReport[] = [];
    const samplesByPhase: Array<{ phase: string; samples: OrderSample[] }> = [];
    const maxLevel = opts.levels[opts.levels.length - 1] as number;
    let cpuProfile: BenchReport["cpuProfile"] = null;
    for (const concurrency of opts.levels) {
      log(`${concurrency} in flight: saga ${opts.sagaSeconds} s…`);
      const { value: saga, breakdown } = await profiled(
        () => measure(() => driver.closedLoop(concurrency, opts.sagaSeconds)),
        concurrency === maxLevel,
      );
      if (breakdown) {
        const orders = saga.value.finished + saga.value.cancelled;
        cpuProfile = { concurrency, orders, processes: breakdown, halfLoad: null };
      }
      log(`${concurrency} in flight: sync transaction ${opts.refSeconds} s…`);
      const syncTx = await measure(() => sync.run(concurrency, opts.refSeconds));
      log(`${concurrency} in flight: monolith ${opts.refSeconds} s…`);
      const mono = await measure(() => monolith.run(concurrency, opts.refSeconds));
      log(`${concurrency} in flight: BullMQ round trip ${opts.refSeconds} s…`);
      const rt = await measure(() => bullmq.run(concurrency, opts.refSeconds));
      samplesByPhase.push({ phase: `${concurrency} in flight`, samples: saga.value.samples });
      const s = saga.value;
      levels.push({
        concurrency,
        saga: withoutSamples(s),
        syncTx: syncTx.value,
        monolith: mono.value,
        bullmq: rt.value,
        ratios: {
          sagaToMonolithThroughput: ratio(s.throughput, mono.value.throughput),
          sagaToSyncThroughput: ratio(s.throughput, syncTx.value.throughput),
          sagaToBullmqThroughput: ratio(s.throughput, rt.value.throughput),
          sagaP50ToBullmqP50: ratio(s.settleMs.p50, rt.value.latencyMs.p50),
          sagaP99ToBullmqP99: ratio(s.settleMs.p99, rt.value.latencyMs.p99),
          sagaP99ToSyncP99: ratio(s.settleMs.p99, syncTx.value.latencyMs.p99),
        },
        cpu: {
          saga: saga.cpu,
          syncTx: syncTx.cpu,
          monolith: mono.cpu,
          bullmq: rt.cpu,
          sagaMsPerOrder: cpuMsPerOperation(saga.cpu, saga.seconds, s.finished + s.cancelled),
          syncMsPerTx: cpuMsPerOperation(syncTx.cpu, syncTx.seconds, syncTx.value.operations),
          monolithMsPerOrder: cpuMsPerOperation(mono.cpu, mono.seconds, mono.value.operations),
          sagaSyscallsPerOrder: perOperation(saga.syscalls, s.finished + s.cancelled),
          monolithSyscallsPerOrder: perOperation(mono.syscalls, mono.value.operations),
          sagaSleepsPerOrder: perOperation(saga.sleeps, s.finished + s.cancelled),
          monolithSleepsPerOrder: perOperation(mono.sleeps, mono.value.operations),
        },
        sagaPeakRssMb: saga.peakRssMb,
      });
      log(
        `  saga ${s.throughput.toFixed(0)} orders/s (p99 ${s.settleMs.p99.toFixed(1)} ms, ${s.missing} missing), ` +
          `monolith ${mono.value.throughput.toFixed(0)} orders/s, sync ${syncTx.value.throughput.toFixed(0)} tx/s, BullMQ ${rt.value.throughput.toFixed(0)} rt/s ` +
          `(p99 ${rt.value.latencyMs.p99.toFixed(1)} ms)`,
      );
    }

    const best = levels.reduce((a, b) => (b.saga.throughput > a.saga.throughput ? b : a));
    const bestSync = levels.reduce((a, b) => (b.syncTx.throughput > a.syncTx.throughput ? b : a));
    const bestMonolith = levels.reduce((a, b) => (b.monolith.throughput > a.monolith.throughput ? b : a));
    const maxSustained = {
      throughput: best.saga.throughput,
      concurrency: best.concurrency,
      syncThroughput: bestSync.syncTx.throughput,
      syncConcurrency: bestSync.concurrency,
      monolithThroughput: bestMonolith.monolith.throughput,
      monolithConcurrency: bestMonolith.concurrency,
    };
    // At the max sustained level: the cost per order when the system is as busy as it gets (target 3, and
    // what the half-load cost is set against).
    const cpuAtMax = systemCpuPerOrder(best.cpu.sagaMsPerOrder);

    let halfLoad: BenchReport["halfLoad"] = null;
    if (opts.halfSeconds > 0) {
      const rate = opts.halfRate ?? maxSustained.throughput / 2;
      // Each half-load run is preceded by the warm-up time at its rate, not measured (the run continues
      // the warm-up's arrivals): the target is the steady state at that rate, and the phase before (the
      // references at full tilt) leaves Postgres and Redis with its own work to finish, which slowed the
      // first second or two every time.
      const warmUp = async (run: () => Promise<unknown>) => {
        if (opts.warmupSeconds > 0) await run();
      };
      log(
        `half load: ${rate.toFixed(0)} orders/s offered (Poisson arrivals), ${opts.warmupSeconds} s of warm-up, then ${opts.halfSeconds} s measured…`,
      );
      await warmUp(() => driver.openLoop(rate, opts.warmupSeconds));
      const { value: run, breakdown } = await profiled(() =>
        measure(() => driver.openLoop(rate, opts.halfSeconds)),
      );
      if (cpuProfile && breakdown) {
        cpuProfile.halfLoad = { orders: run.value.finished + run.value.cancelled, processes: breakdown };
      }
      // The same arrivals for the references: what an order costs at this rate without the saga (the
      // monolith), what the saga's transport alone costs (two BullMQ hops with nothing else to do), and
      // the floor (the saga's shape with the least work in it: the monolith's order, the two hops, a push).
      log(
        `half load: the monolith, the BullMQ round trip, then the floor, at the same ${rate.toFixed(0)}/s…`,
      );
      await warmUp(() => monolith.runOpen(rate, opts.warmupSeconds));
      const monolithAtHalf = halfLoadReference(await measure(() => monolith.runOpen(rate, opts.halfSeconds)));
      await warmUp(() => bullmq.runOpen(rate, opts.warmupSeconds));
      const bullmqAtHalf = halfLoadReference(await measure(() => bullmq.runOpen(rate, opts.halfSeconds)));
      const floor = await floorReference(monolith);
      await warmUp(() => floor.runOpen(rate, opts.warmupSeconds));
      const floorAtHalf = halfLoadReference(
        await measure(() => floor.runOpen(rate, opts.halfSeconds)).finally(() => floor.close()),
      );
      const references = { monolith: monolithAtHalf, bullmq: bullmqAtHalf, floor: floorAtHalf };
      samplesByPhase.push({ phase: "half load", samples: run.value.samples });
      const halfCpuMsPerOrder = cpuMsPerOperation(
        run.cpu,
        run.seconds,
        run.value.finished + run.value.cancelled,
      );
      halfLoad = {
        ...withoutSamples(run.value),
        cpu: run.cpu,
        cpuMsPerOrder: halfCpuMsPerOrder,
        syscallsPerOrder: perOperation(run.syscalls, run.value.finished + run.value.cancelled),
        sleepsPerOrder: perOperation(run.sleeps, run.value.finished + run.value.cancelled),
        waitMsPerOrder: perOperation(run.waits, run.value.finished + run.value.cancelled),
        peakRssMb: run.peakRssMb,
        references,
        costVsMax: costVsMax(systemCpuPerOrder(halfCpuMsPerOrder), cpuAtMax),
      };
    }

    log("profiling the hops from the services' timestamps…");
    const allIds = samplesByPhase.flatMap(({ samples }) => samples.map((s) => s.orderId));
    const redis = createRedisConnection(redisTarget, "bench-profile");
    const stamps = await readStamps(
      system.dbs.urls,
      redis,
      bullPrefix({ REDIS_PREFIX: systemPrefix }),
      allIds,
    ).finally(() => redis.disconnect());
    const phases = samplesByPhase.map(({ phase, samples }) => ({
      phase,
      profile: hopProfile(samples, stamps),
    }));
    const checked = await audit(system.dbs.urls);
    const violations = [...checked.violations, ...(await sync.audit()), ...(await monolith.audit())];

    const sagaCpu = [...levels.map((l) => l.cpu.saga), halfLoad?.cpu];
    const meanOf = (pick: (cpu: CpuUsage) => number | undefined) => {
      const values = sagaCpu
        .map((cpu) => (cpu ? pick(cpu) : undefined))
        .filter((value): value is number => value !== undefined);
      return values.length
        ? Math.round((values.reduce((a, b) => a + b, 0) / values.length) * 100) / 100
        : null;
    };
    const background = {
      ...idle,
      otherDuringSaga: meanOf((cpu) => cpu.other),
      stealDuringSaga: meanOf((cpu) => cpu.steal),
    };
    const finishedAt = new Date();
    const report: BenchReport = {
      version: 1,
      date: startedAt.toISOString().slice(0, 10),
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      wallSeconds: Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000),
      machine,
      background,
      settings: {
        levels: opts.levels,
        sagaSecondsPerLevel: opts.sagaSeconds,
        referenceSecondsPerLevel: opts.refSeconds,
        halfLoadSeconds: opts.halfSeconds,
        halfLoadRate: opts.halfRate,
        warmupSeconds: opts.warmupSeconds,
        shoppers: opts.shoppers,
        syncPoolMax: opts.poolMax,
        systemLogLevel: "info",
        webInstances: 1,
        workersOfEachKind: opts.workers,
        concurrency:
          "closed loop: each in-flight lane is one shopper who places an order and waits for its status event " +
          "before the next; references: each lane runs one transaction / one round trip at a time",
        settleLatency: "status event received over the admin WebSocket feed − create response received",
        throughput: "settled orders / (last settle event − first create request)",
      },
      levels,
      maxSustained,
      halfLoad,
      targets: judgeTargets({
        sagaThroughput: maxSustained.throughput,
        monolithThroughput: maxSustained.monolithThroughput,
        // At a rate fixed by --half-rate the run is not at half the max: nothing to judge.
        halfLoadP99Ms: opts.halfRate === null ? (halfLoad?.settleMs.p99 ?? null) : null,
        cpu: cpuAtMax,
        cpuConcurrency: best.concurrency,
      }),
      profile: { hops: HOPS, phases },
      cpuProfile,
      audit: { violations, orders: checked.orders },
    };

    print(report);
    if (opts.save) await save(report, opts.out);
  } finally {
    log("cleaning up (system, scratch database, Redis keys)…");
    await cleanup();
  }
}

const noDecimals = (cell: string) => cell.replace(/\.00$/, "");

function halfLoadReference(run: {
  value: LoopResult & { offeredRate: number };
  cpu: CpuUsage | null;
  sleeps: Record<string, number> | null;
  waits: Record<string, number> | null;
  seconds: number;
}): HalfLoadReference {
  return {
    ...run.value,
    cpuMsPerOp: cpuMsPerOperation(run.cpu, run.seconds, run.value.operations),
    sleepsPerOp: perOperation(run.sleeps, run.value.operations),
    waitMsPerOp: perOperation(run.waits, run.value.operations),
  };
}

type LevelCountKey =
  "sagaSyscallsPerOrder" | "monolithSyscallsPerOrder" | "sagaSleepsPerOrder" | "monolithSleepsPerOrder";

/**
 * A count per settled order of each process (system calls, sleeps) at each saga level, at half load and
 * at each monolith level, as lines to print; none for results saved before the count existed.
 */
function countTable(
  report: BenchReport,
  heading: string,
  label: string,
  keys: { saga: LevelCountKey; halfLoad: "syscallsPerOrder" | "sleepsPerOrder"; monolith: LevelCountKey },
): string[] {
  const counts = cpuRows([
    ...report.levels.map((l) => ({
      phase: `saga ${l.concurrency}`,
      cpu: l.cpu[keys.saga] ?? null,
    })),
    ...(report.halfLoad ? [{ phase: "half load", cpu: report.halfLoad[keys.halfLoad] ?? null }] : []),
    ...report.levels.map((l) => ({
      phase: `monolith ${l.concurrency}`,
      cpu: l.cpu[keys.monolith] ?? null,
    })),
  ]);
  if (counts.rows.length === 0) return [];
  return [heading, table([label, ...counts.headers.slice(1)], counts.rows), ""];
}

function print(report: BenchReport) {
  const out: string[] = [""];
  out.push(`Gozon benchmark ${report.date} — ${machineLine(report.machine)}`);
  out.push("");
  out.push(table(COMPARISON_HEADERS, comparisonRows(report)));
  out.push("");
  out.push(...targetLines(report), ...caveatLines(report));
  out.push("");
  const half = halfLoadRows(report);
  if (half.length > 0) {
    out.push("The same arrivals for the references (open loop, Poisson, at the saga's half load):");
    out.push(table(HALF_LOAD_HEADERS, half));
    out.push("");
  }
  out.push("Where the time goes (median / p95 ms per hop, from the services' own timestamps):");
  out.push(table(["hop", ...report.profile.phases.map((p) => p.phase)], hopRows(report.profile.phases)));
  out.push("");
  const slowest = slowestRows(report.profile.phases);
  if (slowest.rows.length > 0 && slowest.headers.length > 1) {
    out.push(
      "The slowest 1% of each run (mean ms per hop, all orders' mean in brackets; when they were placed):",
    );
    out.push(table(slowest.headers, slowest.rows));
    out.push("");
  }
  const cpuPhases = [
    ...report.levels.map((l) => ({ phase: `saga ${l.concurrency}`, cpu: l.cpu.saga })),
    ...(report.halfLoad ? [{ phase: "half load", cpu: report.halfLoad.cpu }] : []),
    ...report.levels.map((l) => ({ phase: `monolith ${l.concurrency}`, cpu: l.cpu.monolith })),
    ...report.levels.map((l) => ({ phase: `sync ${l.concurrency}`, cpu: l.cpu.syncTx })),
  ];
  const cpu = cpuRows(cpuPhases);
  out.push(
    `CPU (cores used of ${report.machine.cores}; postgres and redis count every client, not only ours):`,
  );
  out.push(table(cpu.headers, cpu.rows));
  out.push("");
  const perOrder = cpuRows([
    ...report.levels.map((l) => ({ phase: `saga ${l.concurrency}`, cpu: l.cpu.sagaMsPerOrder })),
    ...(report.halfLoad ? [{ phase: "half load", cpu: report.halfLoad.cpuMsPerOrder }] : []),
    ...report.levels.map((l) => ({ phase: `monolith ${l.concurrency}`, cpu: l.cpu.monolithMsPerOrder })),
    ...report.levels.map((l) => ({ phase: `sync ${l.concurrency}`, cpu: l.cpu.syncMsPerTx })),
  ]);
  out.push("CPU ms per settled order (saga, monolith) and per transaction (sync):");
  out.push(table(["CPU ms per op", ...perOrder.headers.slice(1)], perOrder.rows));
  out.push("");
  const rss = cpuRows([
    ...report.levels.map((l) => ({ phase: `saga ${l.concurrency}`, cpu: l.sagaPeakRssMb ?? null })),
    ...(report.halfLoad ? [{ phase: "half load", cpu: report.halfLoad.peakRssMb ?? null }] : []),
  ]);
  if (rss.rows.length > 0) {
    out.push("Peak resident memory (MB, sampled every 250 ms) of each process during each saga run:");
    out.push(
      table(
        ["peak RSS MB", ...rss.headers.slice(1)],
        rss.rows.map((row) => row.map(noDecimals)),
      ),
    );
    out.push("");
  }
  // Results saved before the counts existed have none.
  out.push(
    ...countTable(
      report,
      "System calls per settled order (read + write class, from /proc/PID/io; a count, steadier than CPU time):",
      "calls per order",
      { saga: "sagaSyscallsPerOrder", halfLoad: "syscallsPerOrder", monolith: "monolithSyscallsPerOrder" },
    ),
    ...countTable(
      report,
      "Sleeps per settled order (a thread blocked and was woken again: voluntary context switches, all threads):",
      "sleeps per order",
      { saga: "sagaSleepsPerOrder", halfLoad: "sleepsPerOrder", monolith: "monolithSleepsPerOrder" },
    ),
  );
  if (report.cpuProfile) {
    out.push(
      `CPU profile of the saga at ${report.cpuProfile.concurrency} in flight (share of each process's busy time):`,
    );
    for (const proc of report.cpuProfile.processes) {
      out.push(`  ${proc.process} (${proc.busyMs} ms busy):`);
      out.push(
        `    by place: ${proc.byPlace
          .slice(0, 8)
          .map((p) => `${p.place} ${p.share}%`)
          .join(", ")}`,
      );
      out.push(
        `    top functions: ${proc.topFunctions
          .slice(0, 6)
          .map((f) => `${f.fn} [${f.place}] ${f.share}%`)
          .join("; ")}`,
      );
    }
    out.push(...profileGrowthLines(report.cpuProfile), "");
  }
  const runs = [...report.levels.map((l) => l.saga), ...(report.halfLoad ? [report.halfLoad] : [])];
  const missing = runs.reduce((n, run) => n + run.missing, 0);
  const failed = runs.reduce((n, run) => n + run.failedCreates, 0);
  out.push(
    `Audit: ${report.audit.violations.length === 0 ? "no violations" : report.audit.violations.join("; ")}; ` +
      `orders ${JSON.stringify(report.audit.orders)}; settle events missing: ${missing}; failed creates: ${failed}`,
  );
  for (const run of runs) {
    for (const [reason, count] of Object.entries(run.createErrors)) {
      out.push(`  create failed ×${count} at ${run.concurrency ?? "half load"}: ${reason}`);
    }
  }
  out.push("");
  out.push("Markdown for the README:");
  out.push("");
  out.push(readmeMarkdown(report));
  console.log(out.join("\n"));
}

function readmeMarkdown(report: BenchReport): string {
  const half = halfLoadRows(report);
  return [
    `Measured ${report.date} on ${machineLine(report.machine)} (\`npm run bench\`; all processes on one machine).`,
    "",
    markdownTable(COMPARISON_HEADERS, comparisonRows(report)),
    "",
    ...[...targetLines(report), ...caveatLines(report)].map((line) => `- ${line}`),
    "",
    ...(half.length > 0 ? [markdownTable(HALF_LOAD_HEADERS, half), ""] : []),
    "![Throughput and p99 latency by requests in flight](bench/results/latest.svg)",
  ].join("\n");
}

async function save(report: BenchReport, dir: string) {
  fs.mkdirSync(dir, { recursive: true });
  const points: ChartPoint[] = report.levels.flatMap((level) => [
    {
      concurrency: level.concurrency,
      series: SERIES.saga,
      throughput: level.saga.throughput,
      p50: level.saga.settleMs.p50,
      p99: level.saga.settleMs.p99,
    },
    {
      concurrency: level.concurrency,
      series: SERIES.monolith,
      throughput: level.monolith.throughput,
      p50: level.monolith.latencyMs.p50,
      p99: level.monolith.latencyMs.p99,
    },
    {
      concurrency: level.concurrency,
      series: SERIES.sync,
      throughput: level.syncTx.throughput,
      p50: level.syncTx.latencyMs.p50,
      p99: level.syncTx.latencyMs.p99,
    },
    {
      concurrency: level.concurrency,
      series: SERIES.bullmq,
      throughput: level.bullmq.throughput,
      p50: level.bullmq.latencyMs.p50,
      p99: level.bullmq.latencyMs.p99,
    },
  ]);
  const half = report.halfLoad;
  const svg = await renderChart(
    points,
    `Gozon benchmark ${report.date}: saga vs references, same run`,
    [
      `${machineLine(report.machine)}`,
      `Max sustained: saga ${report.maxSustained.throughput.toFixed(0)} orders/s, monolith ` +
        `${report.maxSustained.monolithThroughput.toFixed(0)} orders/s ` +
        `(saga ÷ monolith ${(report.targets.throughputVsMonolith.value * 100).toFixed(0)}%, target ≥ ` +
        `${(report.targets.throughputVsMonolith.target * 100).toFixed(0)}%)`,
      half
        ? `Half the max saga throughput (${half.offeredRate?.toFixed(0)} orders/s, open loop): settle p99 ` +
          `${half.settleMs.p99.toFixed(0)} ms (target ≤ ${report.targets.p99AtHalfLoad.targetMs} ms)`
        : "No half-load run",
    ],
    report.targets.p99AtHalfLoad.targetMs,
  );
  // Formatted as the repository's Prettier config would, so `prettier --check` passes on committed results.
  const pretty = async (text: string, name: string) => {
    const filepath = path.join(dir, name);
    return format(text, { ...(await resolveConfig(filepath)), filepath });
  };
  const json = await pretty(JSON.stringify(report), "latest.json");
  const files = {
    [`${report.date}.json`]: json,
    [`${report.date}.svg`]: svg,
    "latest.json": json,
    "latest.svg": svg,
    "latest.md": await pretty(readmeMarkdown(report), "latest.md"),
  };
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
  log(
    `wrote ${Object.keys(files)
      .map((name) => path.join(path.relative(repoRoot, dir), name))
      .join(", ")}`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
