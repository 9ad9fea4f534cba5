import { describe, expect, it } from "vitest";
import { costVsMax, judgeTargets, systemCpuPerOrder } from "../src/targets.ts";

describe("systemCpuPerOrder", () => {
  it("sums web, both workers, Postgres and Redis, and keeps the driver and the references apart", () => {
    const cpu = systemCpuPerOrder({
      web: 1.5,
      "orders-worker": 0.5,
      "payments-worker": 0.25,
      postgres: 2,
      redis: 0.25,
      "bench driver": 4,
      "bullmq echo": 9,
      monolith: 9,
    });
    expect(cpu).toEqual({
      total: 4.5,
      byProcess: { web: 1.5, "orders-worker": 0.5, "payments-worker": 0.25, postgres: 2, redis: 0.25 },
      driver: 4,
    });
  });

  it("counts a process that used no CPU as 0 and is null when nothing was measured", () => {
    expect(systemCpuPerOrder({ web: 1 })?.total).toBe(1);
    expect(systemCpuPerOrder({ web: 1 })?.driver).toBeNull();
    expect(systemCpuPerOrder(null)).toBeNull();
  });
});

describe("judgeTargets", () => {
  const cpu = { total: 2.9, byProcess: { web: 2.9 }, driver: 1 };

  it("meets all three at the limits: half the monolith, 50 ms, 3 ms", () => {
    const targets = judgeTargets({
      sagaThroughput: 500,
      monolithThroughput: 1000,
      halfLoadP99Ms: 50,
      cpu: { ...cpu, total: 3 },
      cpuConcurrency: 64,
    });
    expect(targets.throughputVsMonolith).toEqual({ target: 0.5, value: 0.5, met: true });
    expect(targets.p99AtHalfLoad).toEqual({ targetMs: 50, value: 50, met: true });
    expect(targets.cpuMsPerOrder).toEqual({
      target: 3,
      value: 3,
      met: true,
      concurrency: 64,
      byProcess: { web: 2.9 },
      driverMs: 1,
    });
  });

  it("misses each just past its limit", () => {
    const targets = judgeTargets({
      sagaThroughput: 231,
      monolithThroughput: 1050,
      halfLoadP99Ms: 50.1,
      cpu: { ...cpu, total: 3.01 },
      cpuConcurrency: 16,
    });
    expect(targets.throughputVsMonolith.value).toBeCloseTo(0.22, 2);
    expect(targets.throughputVsMonolith.met).toBe(false);
    expect(targets.p99AtHalfLoad.met).toBe(false);
    expect(targets.cpuMsPerOrder.met).toBe(false);
  });

  it("says not measured (null) rather than met when a figure is missing", () => {
    const targets = judgeTargets({
      sagaThroughput: 300,
      monolithThroughput: 0,
      halfLoadP99Ms: null,
      cpu: null,
      cpuConcurrency: 4,
    });
    expect(targets.throughputVsMonolith.met).toBe(false);
    expect(targets.throughputVsMonolith.value).toBeNaN();
    expect(targets.p99AtHalfLoad).toEqual({ targetMs: 50, value: null, met: null });
    expect(targets.cpuMsPerOrder.value).toBeNull();
    expect(targets.cpuMsPerOrder.met).toBeNull();
  });
});

describe("costVsMax", () => {
  it("compares an order's CPU at half load with its CPU at the max, the driver included in both", () => {
    const half = { total: 5.81, byProcess: {}, driver: 0.91 };
    const max = { total: 2.83, byProcess: {}, driver: 0.54 };
    const cost = costVsMax(half, max)!;
    expect(cost.halfMs).toBe(6.72);
    expect(cost.maxMs).toBe(3.37);
    expect(cost.ratio).toBeCloseTo(6.72 / 3.37, 6);
  });

  it("is null when either side was not measured", () => {
    const max = { total: 2.83, byProcess: {}, driver: 0.54 };
    expect(costVsMax(null, max)).toBeNull();
    expect(costVsMax(max, null)).toBeNull();
  });
});
