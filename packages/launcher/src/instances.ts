// How many of each process `npm start` runs, and what sets the instances apart: a name and a metrics port.
import type { Config } from "@gozon/core/config";

export type WorkerKind = "orders-worker" | "payments-worker";

export interface WorkerInstance {
  kind: WorkerKind;
  /** `orders-worker-1`, `orders-worker-2`, …: the supervisor's child name and the worker's log name. */
  name: string;
  /** 0 when metrics are off. */
  metricsPort: number;
}

export const DEFAULT_METRICS_BASE_PORT = 9464;

/**
 * The instances of each worker. Metrics ports interleave from METRICS_PORT (default 9464): orders-worker-i
 * gets base + 2(i-1), payments-worker-i gets base + 2(i-1) + 1, so the two kinds never collide whatever
 * their counts (one of each keeps the historical 9464 and 9465). METRICS_PORT=0 turns them all off.
 */
export function workerInstances(
  config: Pick<Config, "ORDERS_WORKERS" | "PAYMENTS_WORKERS" | "METRICS_PORT">,
): WorkerInstance[] {
  const base = config.METRICS_PORT ?? DEFAULT_METRICS_BASE_PORT;
  const kinds = [
    ["orders-worker", config.ORDERS_WORKERS, 0],
    ["payments-worker", config.PAYMENTS_WORKERS, 1],
  ] as const;
  return kinds.flatMap(([kind, count, offset]) =>
    Array.from({ length: count }, (_, i) => ({
      kind,
      name: `${kind}-${i + 1}`,
      metricsPort: base === 0 ? 0 : base + 2 * i + offset,
    })),
  );
}
