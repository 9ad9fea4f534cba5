// Plain-text tables for the terminal and the markdown table for the README.
import type { MachineInfo } from "./machine.ts";
import { HOPS, type HopProfile } from "./profile.ts";
import { round } from "./stats.ts";
import type { BenchReport, HalfLoadReference } from "./types.ts";

const fmt = (value: number | null | undefined, digits?: number) => {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  return digits === undefined ? String(round(value)) : value.toFixed(digits);
};

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ");
  return [line(headers), widths.map((w) => "─".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

export function markdownTable(headers: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(headers), line(headers.map((_, i) => (i === 0 ? "---" : "---:"))), ...rows.map(line)].join(
    "\n",
  );
}

export function machineLine(machine: MachineInfo) {
  return (
    `${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, ` +
    `${machine.postgres ?? "PostgreSQL"}, Redis ${machine.redis ?? "?"}`
  );
}

export function comparisonRows(report: BenchReport): string[][] {
  return report.levels.map((level) => [
    String(level.concurrency),
    fmt(level.saga.throughput, 0),
    fmt(level.monolith.throughput, 0),
    fmt(level.ratios.sagaToMonolithThroughput, 2),
    fmt(level.syncTx.throughput, 0),
    fmt(level.ratios.sagaToSyncThroughput, 2),
    fmt(level.bullmq.throughput, 0),
    `${fmt(level.saga.settleMs.p50, 1)} / ${fmt(level.saga.settleMs.p95, 1)} / ${fmt(level.saga.settleMs.p99, 1)}`,
    `${fmt(level.monolith.latencyMs.p50, 1)} / ${fmt(level.monolith.latencyMs.p99, 1)}`,
    fmt(level.syncTx.latencyMs.p99, 1),
    fmt(level.bullmq.latencyMs.p99, 1),
    fmt(level.ratios.sagaP99ToBullmqP99, 1),
    `${fmt(level.saga.createMs.p50, 1)} / ${fmt(level.saga.createMs.p99, 1)}`,
  ]);
}

export const COMPARISON_HEADERS = [
  "in flight",
  "saga orders/s",
  "monolith orders/s",
  "saga ÷ monolith",
  "sync tx/s",
  "saga ÷ sync",
  "BullMQ rt/s",
  "settle p50 / p95 / p99 ms",
  "monolith p50 / p99 ms",
  "sync tx p99 ms",
  "BullMQ rt p99 ms",
  "saga p99 ÷ BullMQ p99",
  "create p50 / p99 ms",
];

/**
 * Said of the floor when it could not keep up with its arrivals (they took longer than their seconds to
 * serve). Its latency is timed from each create's answer, as the saga's is, so it leaves out the wait
 * for a create that queued, and its p99 does not show how far behind it fell.
 */
function fellBehind(reference: HalfLoadReference): string {
  if (reference.throughput >= reference.offeredRate * 0.95) return "";
  return (
    ` (it fell behind: ${fmt(reference.throughput, 0)}/s of ${fmt(reference.offeredRate, 0)}/s served; ` +
    `its latency, timed from each create's answer, leaves out the wait for the create)`
  );
}

export function targetLines(report: BenchReport): string[] {
  const { targets, halfLoad, maxSustained } = report;
  const yesNo = (met: boolean | null) => (met === null ? "not measured" : met ? "MET" : "NOT MET");
  const { throughputVsMonolith: vsMonolith, p99AtHalfLoad, cpuMsPerOrder: cpu } = targets;
  const byProcess = cpu.byProcess
    ? Object.entries(cpu.byProcess)
        .map(([name, ms]) => `${name} ${fmt(ms, 2)}`)
        .join(", ")
    : "";
  return [
    `Max sustained saga throughput: ${fmt(maxSustained.throughput, 0)} orders/s (at ${maxSustained.concurrency} in flight); ` +
      `monolith max: ${fmt(maxSustained.monolithThroughput, 0)} orders/s at ${maxSustained.monolithConcurrency} in flight; ` +
      `bare transaction max: ${fmt(maxSustained.syncThroughput, 0)} tx/s at ${maxSustained.syncConcurrency} in flight.`,
    `Target 1 — saga throughput ≥ ${fmt(vsMonolith.target * 100, 0)}% of the monolith's: ` +
      `${fmt(vsMonolith.value * 100, 0)}% (best vs best) → ${yesNo(vsMonolith.met)}`,
    halfLoad
      ? `Target 2 — p99 settle ≤ ${p99AtHalfLoad.targetMs} ms at half the max sustained throughput: offered ` +
        `${fmt(halfLoad.offeredRate, 0)}/s (Poisson), achieved ${fmt(halfLoad.throughput, 0)}/s, settle p50 ` +
        `${fmt(halfLoad.settleMs.p50, 1)} ms, p99 ${fmt(halfLoad.settleMs.p99, 1)} ms → ${yesNo(p99AtHalfLoad.met)}` +
        (halfLoad.costVsMax
          ? `; an order cost ${fmt(halfLoad.costVsMax.ratio, 2)}× its CPU at the max (${fmt(halfLoad.costVsMax.halfMs, 2)} ` +
            `against ${fmt(halfLoad.costVsMax.maxMs, 2)} ms, the driver included), ${fmt(halfLoad.cpu?.machine, 2)} ` +
            `of ${report.machine.cores} cores busy`
          : "") +
        (halfLoad.references?.floor
          ? `; the floor (the monolith's order, two bare BullMQ hops, a WebSocket push) at the same arrivals: p99 ` +
            `${fmt(halfLoad.references.floor.latencyMs.p99, 1)} ms` +
            fellBehind(halfLoad.references.floor)
          : "")
      : "Target 2 — not measured (no half-load run)",
    cpu.value !== null
      ? `Target 3 — CPU ≤ ${cpu.target} ms per settled order over web, both workers, Postgres and Redis ` +
        `(saga at ${cpu.concurrency} in flight): ${fmt(cpu.value, 2)} ms (${byProcess}; the bench driver ` +
        `${fmt(cpu.driverMs, 2)} ms apart) → ${yesNo(cpu.met)}`
      : "Target 3 — not measured (no /proc on this machine)",
  ];
}

export const HALF_LOAD_HEADERS = [
  "at half load",
  "offered / achieved per s",
  "p50 / p99 ms",
  "CPU ms per op",
  "sleeps per op",
  "waiting for a core, ms per op",
];

/**
 * The saga at half load beside the references at the same Poisson arrivals, each counted over every
 * process of its run with the driver (for the saga the target's figure leaves the driver out; here all
 * three are counted alike). None for results saved before the references ran at half load.
 */
export function halfLoadRows(report: BenchReport): string[][] {
  const half = report.halfLoad;
  if (!half?.references) return [];
  const sum = (perOp: Record<string, number> | null | undefined) =>
    perOp ? Object.values(perOp).reduce((a, b) => a + b, 0) : null;
  const { monolith, bullmq, floor } = half.references;
  const row = (
    what: string,
    achieved: number,
    latency: { p50: number; p99: number },
    cpu: Record<string, number> | null | undefined,
    sleeps: Record<string, number> | null | undefined,
    waits: Record<string, number> | null | undefined,
  ) => [
    what,
    `${fmt(half.offeredRate, 0)} / ${fmt(achieved, 0)}`,
    `${fmt(latency.p50, 1)} / ${fmt(latency.p99, 1)}`,
    fmt(sum(cpu), 2),
    fmt(sum(sleeps), 1),
    fmt(sum(waits), 1),
  ];
  return [
    row(
      "saga: create response → settle event",
      half.throughput,
      half.settleMs,
      half.cpuMsPerOrder,
      half.sleepsPerOrder,
      half.waitMsPerOrder,
    ),
    row(
      "monolith: POST /orders, settled",
      monolith.throughput,
      monolith.latencyMs,
      monolith.cpuMsPerOp,
      monolith.sleepsPerOp,
      monolith.waitMsPerOp,
    ),
    row(
      "BullMQ round trip (two hops)",
      bullmq.throughput,
      bullmq.latencyMs,
      bullmq.cpuMsPerOp,
      bullmq.sleepsPerOp,
      bullmq.waitMsPerOp,
    ),
    ...(floor
      ? [
          row(
            "floor: the monolith's order, the two hops, a push; create response → push",
            floor.throughput,
            floor.latencyMs,
            floor.cpuMsPerOp,
            floor.sleepsPerOp,
            floor.waitMsPerOp,
          ),
        ]
      : []),
  ];
}

/**
 * Says so when other work shared the machine, inside it or on its host: absolute figures then
 * understate, ratios less so.
 */
export function caveatLines(report: BenchReport): string[] {
  const { otherDuringSaga: other, stealDuringSaga: steal, cpu } = report.background;
  const cores = report.machine.cores;
  const line = (used: number, by: string, baseline: string) =>
    `${by} ${used.toFixed(2)} of ${cores} cores on average during the saga runs (${baseline}): absolute ` +
    `figures are lower than on a quiet machine; the references ran under the same conditions.`;
  const lines: string[] = [];
  if (other !== null && other >= 0.2) {
    lines.push(
      line(
        other,
        "Other work on the machine used",
        `${cpu?.machine.toFixed(2) ?? "?"} before the bench started`,
      ),
    );
  }
  // Older reports have no steal figure.
  if (steal != null && steal >= 0.05) {
    lines.push(
      line(
        steal,
        "The hypervisor held back",
        "steal time: the host ran other guests while this one's processes were ready",
      ),
    );
  }
  return lines;
}

export function hopRows(profiles: Array<{ phase: string; profile: HopProfile }>): string[][] {
  const rows = HOPS.map((hop) => [
    hop.label,
    ...profiles.map(
      ({ profile }) => `${fmt(profile.hops[hop.key].p50, 0)} / ${fmt(profile.hops[hop.key].p95, 0)}`,
    ),
  ]);
  rows.push([
    "total: create tx → event",
    ...profiles.map(({ profile }) => `${fmt(profile.total.p50, 0)} / ${fmt(profile.total.p95, 0)}`),
  ]);
  rows.push([
    "(create tx → create response)",
    ...profiles.map(
      ({ profile }) => `${fmt(profile.createToResponse.p50, 0)} / ${fmt(profile.createToResponse.p95, 0)}`,
    ),
  ]);
  return rows;
}

/** Per phase: where the slowest 1% spent their time against all orders, and when they were placed. */
export function slowestRows(profiles: Array<{ phase: string; profile: HopProfile }>): {
  headers: string[];
  rows: string[][];
} {
  const withSlowest = profiles.filter(({ profile }) => profile.slowest);
  const rows = HOPS.map((hop) => [
    hop.label,
    ...withSlowest.map(({ profile }) => {
      const { meanMs, allMeanMs } = profile.slowest!;
      return `${fmt(meanMs[hop.key], 0)} (${fmt(allMeanMs[hop.key], 0)})`;
    }),
  ]);
  rows.push([
    "placed (seconds into the run)",
    ...withSlowest.map(({ profile }) => {
      const { placedFromSeconds, placedToSeconds, placedInSeconds, orders } = profile.slowest!;
      return `${orders} in ${placedInSeconds} s of ${fmt(placedFromSeconds, 1)}–${fmt(placedToSeconds, 1)}`;
    }),
  ]);
  return { headers: ["hop", ...withSlowest.map(({ phase }) => phase)], rows };
}

export function cpuRows(phases: Array<{ phase: string; cpu: Record<string, number> | null }>): {
  headers: string[];
  rows: string[][];
} {
  const names = [...new Set(phases.flatMap(({ cpu }) => (cpu ? Object.keys(cpu) : [])))];
  return {
    headers: ["cores used", ...phases.map((p) => p.phase)],
    rows: names
      .filter((name) => phases.some(({ cpu }) => (cpu?.[name] ?? 0) > 0))
      .map((name) => [name, ...phases.map(({ cpu }) => fmt(cpu?.[name], 2))]),
  };
}

/**
 * With both CPU profiles (the highest level's and the half-load run's): for each process, the places whose
 * CPU per order grows most from the max to half load. Goal 2 turns on this growth (halfLoad.costVsMax):
 * what an order costs alike at both loads only moves the half-load rate with the max. A place outside a
 * profile's top 20 counts as 0 there. No lines for runs without both profiles.
 */
export function profileGrowthLines(cpuProfile: BenchReport["cpuProfile"], top = 6): string[] {
  const half = cpuProfile?.halfLoad;
  if (!cpuProfile?.orders || !half?.orders) return [];
  const lines = [
    `Where an order's CPU grows at half load (profiled, ms per order at ${cpuProfile.concurrency} in flight → at half load):`,
  ];
  for (const atMax of cpuProfile.processes) {
    const atHalf = half.processes.find((p) => p.process === atMax.process);
    if (!atHalf) continue;
    const perOrder = (ms: number | undefined, orders: number) => (ms ?? 0) / orders;
    const places = [...new Set([...atMax.byPlace, ...atHalf.byPlace].map((p) => p.place))].map((place) => {
      const max = perOrder(atMax.byPlace.find((p) => p.place === place)?.ms, cpuProfile.orders!);
      const halfMs = perOrder(atHalf.byPlace.find((p) => p.place === place)?.ms, half.orders);
      return { place, max, half: halfMs };
    });
    places.sort((a, b) => b.half - b.max - (a.half - a.max));
    const total = `${fmt(atMax.busyMs / cpuProfile.orders, 2)} → ${fmt(atHalf.busyMs / half.orders, 2)}`;
    lines.push(
      `  ${atMax.process} (${total}): ` +
        places
          .slice(0, top)
          .map((p) => `${p.place} ${fmt(p.max, 2)} → ${fmt(p.half, 2)}`)
          .join(", "),
    );
  }
  return lines;
}
