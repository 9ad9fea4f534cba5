import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { halfLoadRows, targetLines } from "../src/report.ts";
import type { BenchReport, HalfLoadReference } from "../src/types.ts";

// A saved run as the fixture; each case sets the floor it needs.
const saved = JSON.parse(
  fs.readFileSync(path.join(import.meta.dirname, "../results/latest.json"), "utf8"),
) as BenchReport;

const withFloor = (floor: HalfLoadReference | undefined): BenchReport => {
  const report = structuredClone(saved);
  const references = report.halfLoad!.references!;
  if (floor) references.floor = floor;
  else delete references.floor;
  return report;
};

const floor: HalfLoadReference = {
  concurrency: 0,
  offeredRate: 246,
  operations: 4_900,
  errors: 0,
  seconds: 20,
  throughput: 245,
  latencyMs: { count: 4_900, mean: 12, p50: 9.5, p95: 40, p99: 85.04, max: 130 },
  cpuMsPerOp: { "bench driver": 1.75, monolith: 1.5, "bullmq echo": 0.5, postgres: 1.25, redis: 1 },
  sleepsPerOp: { "bench driver": 2, monolith: 1, postgres: 6.5 },
  waitMsPerOp: { "bench driver": 0.4, monolith: 1.2, postgres: 2.5 },
};

describe("the floor at half load", () => {
  it("is a fourth row beside the saga and the other two references, counted as they are", () => {
    const rows = halfLoadRows(withFloor(floor));
    expect(rows).toHaveLength(4);
    expect(rows[3]).toEqual([
      "floor: the monolith's order, the two hops, a push; create response → push",
      `${Math.round(saved.halfLoad!.offeredRate!)} / 245`,
      "9.5 / 85.0",
      "6.00",
      "9.5",
      "4.1",
    ]);
  });

  it("shows no wait for a core for runs saved before it was counted", () => {
    const { waitMsPerOp: _, ...older } = floor;
    expect(halfLoadRows(withFloor(older))[3]!.at(-1)).toBe("–");
  });

  it("gives its p99 on the target 2 line", () => {
    const line = targetLines(withFloor(floor)).find((l) => l.startsWith("Target 2"));
    expect(line).toMatch(
      /; the floor \(the monolith's order, two bare BullMQ hops, a WebSocket push\) at the same arrivals: p99 85\.0 ms$/,
    );
  });

  it("says so on the target 2 line when it fell behind its arrivals", () => {
    const behind = { ...floor, offeredRate: 350, throughput: 227 };
    const line = targetLines(withFloor(behind)).find((l) => l.startsWith("Target 2"));
    expect(line).toMatch(/: p99 85\.0 ms \(it fell behind: 227\/s of 350\/s served; /);
  });

  it("is left out of runs saved before it existed", () => {
    const report = withFloor(undefined);
    expect(halfLoadRows(report)).toHaveLength(3);
    expect(targetLines(report).join("\n")).not.toContain("floor");
  });
});
