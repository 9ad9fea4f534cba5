// How many database connections a worker process needs: the one rule both workers size their pool by.
import { loadDbPoolMax } from "@gozon/core/config";

/** What may hold a connection at the same moment in one process. */
export type ConnectionDemand = {
  /** Jobs each queue consumer runs at once (its BullMQ `concurrency`); a job holds one connection. */
  consumers: Record<string, number>;
  /**
   * Tasks running beside the consumers that hold one connection each while they run (an outbox relay
   * pass, the position assigner, the reconciler, housekeeping, a metrics scrape).
   */
  background: string[];
};

/**
 * The pool size for `demand`: a connection for every job that can run at once plus one per background
 * task, so no job ever waits for a connection (a wait longer than the pool's connection timeout fails
 * the job). `configuredMax` (DB_POOL_MAX) may raise it, never lower it below that.
 */
export function poolSizeFor(
  demand: ConnectionDemand,
  configuredMax: number | undefined = loadDbPoolMax(),
): number {
  const jobs = Object.values(demand.consumers).reduce((sum, concurrency) => sum + concurrency, 0);
  for (const [name, concurrency] of Object.entries(demand.consumers)) {
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new Error(`consumer ${name} needs a positive integer concurrency (got ${concurrency})`);
  }
  return Math.max(jobs + demand.background.length, configuredMax ?? 0);
}

/** Connections per pool when nothing sizes it: several processes share one Postgres. */
export const DEFAULT_POOL_MAX = 10;

/** DB_POOL_MAX, or the default; a value that is not a positive integer stops the process naming it. */
export function poolMaxFromEnv(): number {
  return loadDbPoolMax() ?? DEFAULT_POOL_MAX;
}
