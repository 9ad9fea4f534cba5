// The chaos run's short configuration (`npm run chaos` runs the big one): every fault of the schedule
// while orders arrive at a steady rate, then every guarantee checked from the databases.
import { expect, it } from "vitest";
import { formatChaosReport, lastRunOutput, runChaos } from "../src/chaos.ts";

const ORDERS = Number(process.env.CHAOS_TEST_ORDERS ?? 600);
const SHOPPERS = 10;
const RECONCILE_AFTER_MS = 3_000;

it(`keeps every guarantee for ${ORDERS} orders from ${SHOPPERS} shoppers through the whole fault schedule`, async () => {
  const report = await runChaos({
    shoppers: SHOPPERS,
    orders: ORDERS,
    rate: 15,
    seed: Number(process.env.CHAOS_SEED ?? 7),
    reconcileAfterMs: RECONCILE_AFTER_MS,
    log: (line) => console.log(line),
  });
  console.log(formatChaosReport(report));
  if (report.violations.length > 0) console.error(lastRunOutput().slice(-30_000));

  expect(report.violations).toEqual([]);
  // The live feeds, held through every fault, saw it all (their misses would be violations above).
  expect(report.liveFeeds.subscribers).toBe(SHOPPERS + 1);
  expect(report.liveFeeds.events).toBeGreaterThan(ORDERS * 2);
  expect(report.audit.orders).toMatchObject({ total: ORDERS, NEW: 0 });
  expect(report.audit.debits).toBe(report.audit.orders.FINISHED);
  // Every path was taken: paid, no account, not enough money.
  expect(report.audit.orders.FINISHED).toBeGreaterThan(0);
  expect(report.audit.cancelled.NO_ACCOUNT).toBeGreaterThan(0);
  expect(report.audit.cancelled.INSUFFICIENT_FUNDS).toBeGreaterThan(0);

  // The whole schedule ran.
  expect(report.faultCounts).toEqual({
    "SIGKILL payments-worker": 3,
    "SIGKILL orders-worker": 3,
    "SIGKILL web": 1,
    "pg cut": 1,
    FLUSHALL: 1,
  });
  expect(report.pgSessionsTerminated).toBeGreaterThan(0);
  expect(report.requests.gaveUp).toBe(0);

  // Duplicates reached the consumers and changed nothing.
  const injected = report.duplicates.injected.requests + report.duplicates.injected.results;
  expect(report.duplicates.injected.requests).toBeGreaterThan(0);
  expect(report.duplicates.injected.results).toBeGreaterThan(0);
  expect(report.duplicates.delivered).toBeGreaterThan(0);
  expect(report.duplicates.delivered + report.duplicates.lostInFlush).toBe(injected);
  expect(report.duplicates.extraEffects).toBe(0);
  expect(report.duplicates.dropped).toBe(report.duplicates.delivered);

  // Bounded settling. The target is RECONCILE_AFTER_MS + 5 s: the table reports the figure (0.1–3 s on an
  // idle 2-core machine). The assertion only catches a system that does not recover: on a machine busy
  // with other work (two runs at once), 17–32 s were seen.
  expect(report.settleAfterFaultsMs).not.toBeNull();
  expect(report.settleAfterFaultsMs!).toBeLessThan(60_000);
  for (const fault of report.faults) expect(fault.recoveredMs).not.toBeNull();
});
