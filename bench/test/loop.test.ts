import { describe, expect, it } from "vitest";
import { arrivalSource, openLoop, poissonArrivals, type ArrivalSource } from "../src/loop.ts";

describe("poissonArrivals", () => {
  it("offers the same arrivals every run: about rate × seconds of them", async () => {
    const counts = [];
    for (let run = 0; run < 2; run++) {
      let arrivals = 0;
      const lags = await poissonArrivals(2_000, 0.1, () => arrivals++);
      expect(lags).toHaveLength(arrivals);
      counts.push(arrivals);
    }
    expect(counts[0]).toBe(counts[1]);
    expect(counts[0]).toBeGreaterThan(150);
    expect(counts[0]).toBeLessThan(250);
  });

  it("continues a sequence handed from run to run instead of replaying it", async () => {
    const source = arrivalSource();
    const draws: number[] = [];
    const recording: ArrivalSource = (min, max) => {
      const draw = source(min, max);
      draws.push(draw);
      return draw;
    };
    await poissonArrivals(1_000, 0.02, () => {}, recording);
    const firstRun = draws.length;
    await poissonArrivals(1_000, 0.02, () => {}, recording);
    expect(draws.length).toBeGreaterThan(firstRun);
    // Both runs' draws are the start of one sequence: the second went on where the first stopped.
    const sequence = arrivalSource();
    expect(draws).toEqual(draws.map(() => sequence(1, 1_000_000)));
  });
});

describe("openLoop", () => {
  it("does not wait for one operation before starting the next, and counts failures apart", async () => {
    let running = 0;
    let peak = 0;
    let calls = 0;
    const result = await openLoop(2_000, 0.05, async () => {
      const call = calls++;
      running++;
      peak = Math.max(peak, running);
      // Every operation outlives the whole schedule, so all of them overlap.
      await new Promise((resolve) => setTimeout(resolve, 500));
      running--;
      if (call % 10 === 0) throw new Error("refused");
    });
    expect(peak).toBe(calls);
    expect(result.operations + result.errors).toBe(calls);
    expect(result.errors).toBe(Math.ceil(calls / 10));
    expect(result.offeredRate).toBe(2_000);
  });
});

describe("openLoop's latency", () => {
  it("is the part an operation timed itself when it returns one, otherwise arrival to end", async () => {
    const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
    const whole = await openLoop(200, 0.05, () => wait(30));
    const timed = await openLoop(200, 0.05, async () => {
      await wait(30);
      return 2;
    });
    expect(whole.latencyMs.p50).toBeGreaterThanOrEqual(29);
    expect(timed.operations).toBeGreaterThan(0);
    expect(timed.latencyMs.p50).toBe(2);
    expect(timed.latencyMs.max).toBe(2);
  });
});
