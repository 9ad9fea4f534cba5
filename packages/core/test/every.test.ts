import { describe, expect, it } from "vitest";
import { every } from "../src/every.ts";
import { capturingLogger, waitFor } from "../test-support/testing.ts";

/** A task whose runs the test finishes by hand. */
function gatedTask() {
  const runs: Array<(error?: Error) => void> = [];
  const task = () =>
    new Promise<void>((resolve, reject) => runs.push((error) => (error ? reject(error) : resolve())));
  return { task, runs };
}

describe("every", () => {
  it("never runs the task twice at once, logs a failure and runs again at the next tick", async () => {
    const { log, lines } = capturingLogger();
    const { task, runs } = gatedTask();
    const periodic = every(60_000, "gated", log, task);
    periodic.tick();
    periodic.tick(); // during the run: skipped
    expect(runs).toHaveLength(1);

    runs[0]!(new Error("boom"));
    await waitFor(() => lines.some((line) => line.msg === "periodic task failed"), { what: "the log line" });
    expect(lines.find((line) => line.msg === "periodic task failed")).toMatchObject({ task: "gated" });
    periodic.tick();
    expect(runs).toHaveLength(2);
    runs[1]!();
    await periodic.stop();
  });

  it("runs every interval; stop() waits for the run in progress, and nothing runs after it", async () => {
    const { log } = capturingLogger();
    const { task, runs } = gatedTask();
    const periodic = every(20, "interval", log, task);
    await waitFor(() => runs.length === 1, { what: "the first interval" });
    let stopped = false;
    const stopping = periodic.stop().then(() => (stopped = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    runs[0]!();
    await stopping;
    periodic.tick(); // stopped: a late tick (e.g. from a shutdown race) does nothing
    expect(runs).toHaveLength(1);
  });

  it("stop() waits at most its bound for a run that does not finish, and aborts the run's signal", async () => {
    const { log, lines } = capturingLogger();
    let signal: AbortSignal | undefined;
    const periodic = every(60_000, "endless", log, (given) => {
      signal = given;
      return new Promise(() => {}); // a purge that never returns
    });
    periodic.tick();
    expect(signal?.aborted).toBe(false);
    await periodic.stop(50);
    expect(signal?.aborted).toBe(true);
    expect(lines.find((line) => line.msg === "stopped with a periodic run still in progress")).toMatchObject({
      task: "endless",
      waitMs: 50,
    });
  });

  it("a run that fails because it was stopped is not logged as a failure", async () => {
    const { log, lines } = capturingLogger();
    const periodic = every(60_000, "cut", log, (signal) => {
      return new Promise((_, reject) =>
        signal.addEventListener("abort", () => reject(new Error("pool closed")), { once: true }),
      );
    });
    periodic.tick();
    await periodic.stop();
    expect(lines.some((line) => line.msg === "periodic task failed")).toBe(false);
    expect(lines.find((line) => line.msg === "periodic task cut short by the stop")).toMatchObject({
      task: "cut",
    });
  });
});
