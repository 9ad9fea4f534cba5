// A closed-loop driver for the references: `concurrency` lanes, each running `op` back to back.
import { performance } from "node:perf_hooks";
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
