// `npm run overload`: the overload run at full length (the 2 minutes of each fault by default),
// sizes from the command line; prints what it saw and exits non-zero when a bound or guarantee broke.
// `npm run overload -- --help` lists the options.
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import {
  defaultOverloadOptions,
  formatRedisOutage,
  formatWorkerDown,
  overloadViolations,
  runOverload,
} from "./overload.ts";

const numeric = {
  "down-seconds": ["how long the orders worker is down (0 skips it)", 120],
  "outage-seconds": ["how long Redis is away (0 skips it)", 120],
  rate: ["orders placed per second throughout", defaultOverloadOptions.rate],
  shoppers: ["shoppers placing them", defaultOverloadOptions.shoppers],
  "reconcile-after-ms": ["RECONCILE_AFTER_MS of the orders worker", defaultOverloadOptions.reconcileAfterMs],
} as const;

const { values } = parseArgs({
  options: {
    help: { type: "boolean", short: "h" },
    json: { type: "string" },
    ...Object.fromEntries(Object.keys(numeric).map((key) => [key, { type: "string" as const }])),
  },
});

const out = (text: string) => process.stdout.write(`${text}\n`);

if (values.help) {
  out("npm run overload -- [options]\n");
  for (const [key, [what, fallback]] of Object.entries(numeric)) {
    out(`  --${key.padEnd(20)} ${what} (default ${fallback})`);
  }
  out(`  --json FILE              also write the report as JSON`);
  process.exit(0);
}

const number = (key: keyof typeof numeric): number => {
  const raw = (values as Record<string, string | undefined>)[key];
  if (raw === undefined) return numeric[key][1];
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    process.stderr.write(`--${key} must be a non-negative number (got ${raw})\n`);
    process.exit(2);
  }
  return value;
};

const outputFile = path.join(os.tmpdir(), `gozon-overload-${Date.now()}.log`);
const report = await runOverload(
  { downSeconds: number("down-seconds"), outageSeconds: number("outage-seconds") },
  {
    rate: number("rate"),
    shoppers: number("shoppers"),
    reconcileAfterMs: number("reconcile-after-ms"),
    log: out,
    outputFile,
  },
);
const violations = overloadViolations(report);
out("");
if (report.workerDown) out(formatWorkerDown(report.workerDown));
if (report.redisOutage) out(formatRedisOutage(report.redisOutage));
out(`${report.placed} orders placed, all settled: ${JSON.stringify(report.audit.orders)}`);
out(violations.length === 0 ? "no violations" : `VIOLATIONS:\n  ${violations.join("\n  ")}`);
out(`process output: ${outputFile}`);
if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
process.exit(violations.length > 0 ? 1 : 0);
