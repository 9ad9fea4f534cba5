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

/**
 * Calls `arrive(i)` at the times of a Poisson process of `rate` per second for `seconds`, without waiting
 * for earlier calls (so a slow system cannot slow the arrivals down and hide its own latency). The seed is
 * fixed: every open-loop run of the same rate and length offers the same arrivals. Returns how late each
 * arrival was called (the driver's own lag).
 */
export async function poissonArrivals(
  rate: number,
  seconds: number,
  arrive: (i: number) => void,
): Promise<number[]> {
  const uniform = random(11);
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

/** `op` at Poisson arrivals of `rate` per second for `seconds` (a reference at the saga's half load). */
export async function openLoop(
  rate: number,
  seconds: number,
  op: (lane: number) => Promise<void>,
): Promise<LoopResult & { offeredRate: number }> {
  const latencies: number[] = [];
  const pending: Array<Promise<void>> = [];
  let errors = 0;
  let firstError: unknown;
  const start = performance.now();
  await poissonArrivals(rate, seconds, (i) => {
    const began = performance.now();
    pending.push(
      op(i).then(
        () => void latencies.push(performance.now() - began),
        (error: unknown) => {
          errors++;
          firstError ??= error;
        },
      ),
    );
  });
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
