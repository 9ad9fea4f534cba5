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
});
