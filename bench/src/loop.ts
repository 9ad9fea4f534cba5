// Drivers for the saga and the references: a closed loop (`concurrency` lanes, each running `op` back to
// back) and an open loop (Poisson arrivals at a fixed rate, whatever is still in flight).
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { random } from "@gozon/system-tests/load";
import { summarize, type Summary } from "./stats.ts";

export type LoopResult = {
  concurrency: number;
  operations: number;
  errors: number;
  seconds: number;
  /** Operations per second over the whole run (first start to last completion). */
  throughput: number;
  latencyMs: Summary;
};

export async function closedLoop(
  concurrency: number,
  seconds: number,
  op: (lane: number) => Promise<void>,
): Promise<LoopResult> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: unknown;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, lane) => {
      while (performance.now() < deadline) {
        const began = performance.now();
        try {
          await op(lane);
          latencies.push(performance.now() - began);
        } catch (error) {
          errors++;
          firstError ??= error;
          if (errors > 100) throw error;
        }
      }
    }),
  );
  if (latencies.length === 0 && firstError) throw firstError;
  const elapsed = (performance.now() - start) / 1000;
  return {
    concurrency,
    operations: latencies.length,
    errors,
    seconds: elapsed,
    throughput: latencies.length / elapsed,
    latencyMs: summarize(latencies),
  };
}

/** The uniform draws behind a run's arrival times. */
export type ArrivalSource = ReturnType<typeof random>;

/**
 * A fixed seed: every driver offers the same arrivals. Keep one per driver and pass it to each of its
 * open-loop runs, so that a run continues the arrivals of the run before it (its warm-up) instead of
 * replaying them from the start. A run that replays them starts with the same burst every time: at 120
 * and 139 a second this seed's first half second is its densest (a third above the mean), and the
 * slowest 1% of two half-load runs were all placed in their first two seconds.
 */
export const arrivalSource = (): ArrivalSource => random(11);

/**
 * Calls `arrive(i)` at the times of a Poisson process of `rate` per second for `seconds`, without waiting
 * for earlier calls (so a slow system cannot slow the arrivals down and hide its own latency). Returns how
 * late each arrival was called (the driver's own lag).
 */
export async function poissonArrivals(
  rate: number,
  seconds: number,
  arrive: (i: number) => void,
  uniform: ArrivalSource = arrivalSource(),
): Promise<number[]> {
  const start = performance.now();
  const lags: number[] = [];
  let due = start;
  for (let i = 0; ; i++) {
    // Exponential inter-arrival times; the generator yields integers, so take a fine-grained one.
    due += (-Math.log(uniform(1, 1_000_000) / 1_000_001) / rate) * 1000;
    if (due - start > seconds * 1000) break;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    lags.push(Math.max(0, performance.now() - due));
    arrive(i);
  }
  return lags;
}

/**
 * `op` at Poisson arrivals of `rate` per second for `seconds` (a reference at the saga's half load). An
 * operation's latency runs from its arrival to its end, unless `op` returns a number: the milliseconds of
 * the part it timed itself (the floor times what follows the create's answer, as the saga is timed).
 */
export async function openLoop(
  rate: number,
  seconds: number,
  op: (lane: number) => Promise<void | number>,
  uniform?: ArrivalSource,
): Promise<LoopResult & { offeredRate: number }> {
  const latencies: number[] = [];
  const pending: Array<Promise<void>> = [];
  let errors = 0;
  let firstError: unknown;
  const start = performance.now();
  const arrive = (i: number) => {
    const began = performance.now();
    pending.push(
      op(i).then(
        (timed) => void latencies.push(typeof timed === "number" ? timed : performance.now() - began),
        (error: unknown) => {
          errors++;
          firstError ??= error;
        },
      ),
    );
  };
  await poissonArrivals(rate, seconds, arrive, uniform);
  await Promise.all(pending);
  if (latencies.length === 0 && firstError) throw firstError;
  const elapsed = (performance.now() - start) / 1000;
  return {
    concurrency: 0,
    offeredRate: rate,
    operations: latencies.length,
    errors,
    seconds: elapsed,
    throughput: latencies.length / elapsed,
    latencyMs: summarize(latencies),
  };
}
