import { describe, expect, it } from "vitest";
import type { CpuBreakdown } from "../src/cpu-profile.ts";
import { profileGrowthLines } from "../src/report.ts";

const breakdown = (process: string, busyMs: number, places: Record<string, number>): CpuBreakdown => ({
  process,
  busyMs,
  byPlace: Object.entries(places).map(([place, ms]) => ({ place, ms, share: (ms / busyMs) * 100 })),
  topFunctions: [],
});

describe("where an order's CPU grows at half load", () => {
  it("lists each process's places by growth in CPU per order, a place missing from one profile as 0", () => {
    const lines = profileGrowthLines({
      concurrency: 64,
      orders: 100,
      processes: [breakdown("web", 100, { zod: 30, pg: 50, ws: 20 })],
      halfLoad: { orders: 50, processes: [breakdown("web", 120, { zod: 15, pg: 50, ioredis: 40, ws: 15 })] },
    });
    expect(lines).toEqual([
      "Where an order's CPU grows at half load (profiled, ms per order at 64 in flight → at half load):",
      "  web (1.00 → 2.40): ioredis 0.00 → 0.80, pg 0.50 → 1.00, ws 0.20 → 0.30, zod 0.30 → 0.30",
    ]);
  });

  it("says nothing without both profiles (runs saved before the half-load one existed)", () => {
    const processes = [breakdown("web", 100, { pg: 50 })];
    expect(profileGrowthLines({ concurrency: 64, processes })).toEqual([]);
    expect(profileGrowthLines({ concurrency: 64, orders: 100, processes, halfLoad: null })).toEqual([]);
    expect(profileGrowthLines(null)).toEqual([]);
  });
});
