// Overload and faults, short version (`npm run overload` runs the full one): under a steady stream of
// orders, the orders worker is down for a while, then Redis is away for a while.
import { beforeAll, describe, expect, it } from "vitest";
import {
  formatRedisOutage,
  formatWorkerDown,
  OVERLOAD_BOUNDS,
  overloadViolations,
  runOverload,
  type OverloadReport,
} from "../src/overload.ts";

const DOWN_SECONDS = Number(process.env.OVERLOAD_DOWN_SECONDS ?? 10);
const OUTAGE_SECONDS = Number(process.env.OVERLOAD_OUTAGE_SECONDS ?? 10);
const RATE = 20;

let report: OverloadReport;

beforeAll(async () => {
  report = await runOverload(
    { downSeconds: DOWN_SECONDS, outageSeconds: OUTAGE_SECONDS },
    // RECONCILE_AFTER_MS far below the downtime: every order of the backlog is old enough to be asked for.
    { rate: RATE, reconcileAfterMs: 5_000, log: (line) => console.log(line) },
  );
}, 300_000);

describe(`orders worker down ${DOWN_SECONDS} s, then Redis away ${OUTAGE_SECONDS} s, at ${RATE} orders/s`, () => {
  it("re-requests stay under 1% of the backlog the restarted orders worker finds", () => {
    const down = report.workerDown!;
    console.log(formatWorkerDown(down));
    expect(down.backlog).toBeGreaterThan(RATE * DOWN_SECONDS * 0.8);
    expect(down.reRequests).toBeLessThan(OVERLOAD_BOUNDS.reRequestShare * down.backlog);
  });

  it("no process grows by more than 50 MB while Redis is away and its backlog drains", () => {
    const outage = report.redisOutage!;
    console.log(formatRedisOutage(outage));
    expect(Object.keys(outage.rss).sort()).toEqual(["orders-worker-1", "payments-worker-1", "web-0"]);
    for (const [name, rss] of Object.entries(outage.rss)) {
      expect(rss.peakMb - rss.startMb, name).toBeLessThan(OVERLOAD_BOUNDS.rssGrowthMb);
    }
  });

  it("while Redis is away, producers fail fast: the order feed's positions keep being stamped", () => {
    // A producer waiting on Redis would hold the position assigner until Redis came back.
    expect(report.redisOutage!.unpositionedAtRestore).toBeLessThan(RATE * 2);
  });

  it("settles every order with every guarantee intact", () => {
    expect(overloadViolations(report)).toEqual([]);
    expect(report.audit.orders.NEW).toBe(0);
    expect(report.audit.debits).toBe(report.audit.orders.FINISHED);
  });
});
