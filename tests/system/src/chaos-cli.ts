// `npm run chaos`: the chaos run with sizes from the command line or the environment; prints the table
// and exits non-zero on any violation. `npm run chaos -- --help` lists the options.
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import {
  defaultChaosOptions,
  formatChaosReport,
  lastRunOutput,
  runChaos,
  type ChaosOptions,
} from "./chaos.ts";

const numeric = {
  shoppers: ["CHAOS_SHOPPERS", "shoppers"],
  orders: ["CHAOS_ORDERS", "orders"],
  rate: ["CHAOS_RATE", "orders (and top-ups) started per second"],
  seed: ["CHAOS_SEED", "seed of the load and of the duplicate sampling"],
  workers: ["CHAOS_WORKERS", "instances of each worker (SIGKILLs hit them in turn)"],
  workerKills: ["CHAOS_WORKER_KILLS", "SIGKILLs of each worker"],
  webKills: ["CHAOS_WEB_KILLS", "SIGKILLs of the second web instance"],
  flushes: ["CHAOS_FLUSHES", "Redis FLUSHALLs"],
  pgCuts: ["CHAOS_PG_CUTS", "Postgres connection cuts"],
  duplicateShare: ["CHAOS_DUPLICATES", "share of sent messages re-published (0-1)"],
  topUpShare: ["CHAOS_TOP_UPS", "top-ups as a share of the orders (0-1)"],
  reconcileAfterMs: ["CHAOS_RECONCILE_AFTER_MS", "RECONCILE_AFTER_MS of the orders worker"],
  maxInFlight: ["CHAOS_MAX_IN_FLIGHT", "requests in flight at most"],
  settleTimeoutMs: ["CHAOS_SETTLE_TIMEOUT_MS", "how long to wait for every order to settle"],
} as const satisfies Partial<Record<keyof ChaosOptions, readonly [string, string]>>;

type Key = keyof typeof numeric;
const flag = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

const { values } = parseArgs({
  options: {
    help: { type: "boolean", short: "h" },
    json: { type: "string" },
    "redis-cluster": { type: "boolean" },
    ...Object.fromEntries(Object.keys(numeric).map((key) => [flag(key), { type: "string" as const }])),
  },
});

const out = (text: string) => process.stdout.write(`${text}\n`);

if (values.help) {
  out("npm run chaos -- [options]   (each option also as an environment variable)\n");
  for (const [key, [env, what]] of Object.entries(numeric)) {
    const fallback = defaultChaosOptions[key as Key];
    out(`  --${flag(key).padEnd(20)} ${env.padEnd(26)} ${what} (default ${fallback})`);
  }
  out(
    `  --redis-cluster          CHAOS_REDIS_CLUSTER=1      run on a 3-master Redis Cluster (FLUSHALL empties every master)`,
  );
  out(`  --json FILE              also write the report as JSON`);
  process.exit(0);
}

const options: Partial<ChaosOptions> = { log: out };
for (const [key, [env]] of Object.entries(numeric)) {
  const raw = (values as Record<string, string | undefined>)[flag(key)] ?? process.env[env];
  if (raw === undefined) continue;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    process.stderr.write(`--${flag(key)} must be a non-negative number (got ${raw})\n`);
    process.exit(2);
  }
  (options as Record<string, unknown>)[key] = value;
}

if (values["redis-cluster"] || process.env.CHAOS_REDIS_CLUSTER === "1") options.redisCluster = true;

const report = await runChaos(options);
if (report.violations.length > 0) {
  report.outputFile = path.join(os.tmpdir(), `gozon-chaos-${Date.now()}.log`);
  writeFileSync(report.outputFile, lastRunOutput());
}
out(`\n${formatChaosReport(report)}`);
if (report.outputFile) out(`\nprocess output: ${report.outputFile}`);
if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
process.exit(report.violations.length > 0 ? 1 : 0);
