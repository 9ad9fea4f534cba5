import type { Logger } from "@gozon/core/logger";

/**
 * Runs `task` every `intervalMs`, never two at once; a failure is logged and the next tick tries again.
 * `stop()` waits for a run in progress.
 */
export function every(intervalMs: number, name: string, log: Logger, task: () => Promise<unknown>) {
  let running: Promise<void> | undefined;
  const tick = () => {
    if (running) return;
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
      clearInterval(timer);
      await running;
    },
  };
}
