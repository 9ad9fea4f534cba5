import type { Logger } from "./logger.ts";

/**
 * Runs `cleanup` once on SIGINT/SIGTERM, then exits: 0 when it finished, 1 when it failed or took longer
 * than `timeoutMs` (a process that cannot close its pools must still go away, not linger as an orphan).
 */
export function onShutdown(log: Logger, cleanup: () => Promise<void>, { timeoutMs = 10_000 } = {}) {
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    setTimeout(() => {
      log.error({ timeoutMs }, "shutdown timed out");
      process.exit(1);
    }, timeoutMs).unref();
    try {
      await cleanup();
      log.info("stopped");
      process.exit(0);
    } catch (err) {
      log.error({ err }, "shutdown failed");
      process.exit(1);
    }
  };
  // `on`, not `once`: a handler that is gone by the time a loader (tsx) counts listeners would let it
  // re-raise the signal and kill the process mid-shutdown. `stopping` makes a second signal a no-op.
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
