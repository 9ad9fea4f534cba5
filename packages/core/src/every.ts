// The periodic tasks of both workers (reconciler, inbox sweep, purges) share this one timer.
import type { Logger } from "./logger.ts";

/**
 * How long `stop()` waits for a run in progress. A shutdown has 10 s in all (lifecycle.ts), and what comes
 * after the periodic tasks (letting the consumer's active jobs finish) matters more than an hourly purge.
 */
export const STOP_WAIT_MS = 3_000;

export type Periodic = {
  /** Runs the task now, unless a run is in progress or the task is stopped. */
  tick(): void;
  /**
   * Stops the timer, tells a run in progress (its signal aborts) and waits for it, at most `waitMs`. A run
   * still going then is left to the pools closing under it: every periodic task here is safe to cut short
   * and to run again (each step is its own transaction or Lua call).
   */
  stop(waitMs?: number): Promise<void>;
};

/**
 * Runs `task` every `intervalMs`, never two at once (a tick during a run is skipped); a failure is logged
 * and the next tick tries again. The first run is at the first interval: call `tick()` to run it now. A
 * task that loops may check `signal`, which aborts when the task is stopped (the inbox sweep does, since it
 * goes on while it finds work); the others end at the stop's bound, when the pools close under them.
 */
export function every(
  intervalMs: number,
  name: string,
  log: Logger,
  task: (signal: AbortSignal) => Promise<unknown>,
): Periodic {
  let running: Promise<void> | undefined;
  const stopping = new AbortController();
  const tick = () => {
    if (running || stopping.signal.aborted) return;
    running = task(stopping.signal)
      .then(
        () => undefined,
        (err: unknown) => {
          if (stopping.signal.aborted) log.info({ err, task: name }, "periodic task cut short by the stop");
          else log.error({ err, task: name }, "periodic task failed");
        },
      )
      .finally(() => (running = undefined));
  };
  const timer = setInterval(tick, intervalMs);
  return {
    tick,
    async stop(waitMs = STOP_WAIT_MS) {
      stopping.abort();
      clearInterval(timer);
      if (!running) return;
      let waited: NodeJS.Timeout | undefined;
      const finished = await Promise.race([
        running.then(() => true),
        new Promise<false>((resolve) => (waited = setTimeout(() => resolve(false), waitMs))),
      ]);
      clearTimeout(waited);
      if (!finished) log.warn({ task: name, waitMs }, "stopped with a periodic run still in progress");
    },
  };
}
