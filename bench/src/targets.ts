// The goals of issue #15, judged from one run's figures: the saga's max sustained throughput against the
// monolith's, its p99 create→settle at half that load, and the CPU it burns per settled order.

/** The processes an order costs CPU in; the bench driver (the shoppers' side) is reported apart. */
export const SYSTEM_PROCESSES = ["web", "orders-worker", "payments-worker", "postgres", "redis"] as const;
export const DRIVER = "bench driver";

export const TARGETS = { throughputVsMonolith: 0.5, p99AtHalfLoadMs: 50, cpuMsPerOrder: 3 } as const;

export type CpuPerOrder = {
  /** CPU ms per settled order summed over SYSTEM_PROCESSES. */
  total: number;
  byProcess: Record<string, number>;
  /** The driver's own CPU ms per order (not in `total`). */
  driver: number | null;
};

/** Sums the system's CPU ms per order from a per-group breakdown (cpuMsPerOperation); null when unmeasured. */
export function systemCpuPerOrder(perOrder: Record<string, number> | null): CpuPerOrder | null {
  if (!perOrder) return null;
  const byProcess: Record<string, number> = {};
  for (const name of SYSTEM_PROCESSES) byProcess[name] = perOrder[name] ?? 0;
  const total = Object.values(byProcess).reduce((sum, ms) => sum + ms, 0);
  return { total: Math.round(total * 100) / 100, byProcess, driver: perOrder[DRIVER] ?? null };
}

/** An order's CPU at half load against its CPU at the max sustained level, the driver included in both. */
export type CostVsMax = { halfMs: number; maxMs: number; ratio: number };

/**
 * Why target 2 is about batching: the half-load rate is half the saga's own maximum, so the machine is as
 * busy at half load as at the maximum times this ratio ÷ 2. A saving an order gets in the same share at
 * both loads leaves it as it was; only what grouping saves at the maximum and not at half load moves it.
 */
export function costVsMax(half: CpuPerOrder | null, max: CpuPerOrder | null): CostVsMax | null {
  if (!half || !max) return null;
  const halfMs = half.total + (half.driver ?? 0);
  const maxMs = max.total + (max.driver ?? 0);
  if (maxMs <= 0) return null;
  return {
    halfMs: Math.round(halfMs * 100) / 100,
    maxMs: Math.round(maxMs * 100) / 100,
    ratio: halfMs / maxMs,
  };
}

export type Targets = {
  throughputVsMonolith: { target: number; value: number; met: boolean };
  p99AtHalfLoad: { targetMs: number; value: number | null; met: boolean | null };
  cpuMsPerOrder: {
    target: number;
    value: number | null;
    met: boolean | null;
    /** The saga run the value comes from (the max sustained level). */
    concurrency: number;
    byProcess: Record<string, number> | null;
    driverMs: number | null;
  };
};

export function judgeTargets(figures: {
  sagaThroughput: number;
  monolithThroughput: number;
  halfLoadP99Ms: number | null;
  cpu: CpuPerOrder | null;
  cpuConcurrency: number;
}): Targets {
  const ratio =
    figures.monolithThroughput > 0 && Number.isFinite(figures.sagaThroughput)
      ? figures.sagaThroughput / figures.monolithThroughput
      : Number.NaN;
  const p99 = figures.halfLoadP99Ms;
  const cpu = figures.cpu;
  return {
    throughputVsMonolith: {
      target: TARGETS.throughputVsMonolith,
      value: ratio,
      met: ratio >= TARGETS.throughputVsMonolith,
    },
    p99AtHalfLoad: {
      targetMs: TARGETS.p99AtHalfLoadMs,
      value: p99,
      met: p99 === null || !Number.isFinite(p99) ? null : p99 <= TARGETS.p99AtHalfLoadMs,
    },
    cpuMsPerOrder: {
      target: TARGETS.cpuMsPerOrder,
      value: cpu?.total ?? null,
      met: cpu ? cpu.total <= TARGETS.cpuMsPerOrder : null,
      concurrency: figures.cpuConcurrency,
      byProcess: cpu?.byProcess ?? null,
      driverMs: cpu?.driver ?? null,
    },
  };
}
