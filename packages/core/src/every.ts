// The periodic tasks of both workers (reconciler, inbox sweep, purges) share this one timer.
import type { Logger } from "./logger.ts";

export type Periodic = {
  /** Runs the task now, unless a run is in progress or the task is stopped. */
  tick(): void;
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
};

/**
 * Runs `task` every `intervalMs`, never two at once (a tick during a run is skipped); a failure is logged
 * and the next tick tries again. The first run is at the first interval: call `tick()` to run it now.
 */
export function every(intervalMs: number, name: string, log: Logger, task: () => Promise<unknown>): Periodic {
  let running: Promise<void> | undefined;
  let stopped = false;
  const tick = () => {
    if (running || stopped) return;
    running = task()
      .then(
        () => undefined,
        (err: unknown) => log.error({ err, task: name }, "periodic task failed"),
      )
      .finally(() => (running = undefined));
  };
  const timer = setInterval(tick, intervalMs);
  return {
    tick,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
