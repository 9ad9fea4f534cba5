import { Counter, Histogram, type Registry } from "@gozon/core/metrics";
import { registerPoisonCounter } from "@gozon/messaging/metrics";

export function createOrdersWorkerMetrics(registry: Registry) {
  return {
    settled: new Counter({
      name: "gozon_orders_settled_total",
      help: "Orders moved out of NEW, by final status",
      labelNames: ["status"],
      registers: [registry],
    }),
    settleLatency: new Histogram({
      name: "gozon_order_settle_latency_seconds",
      help: "From order creation to its settlement",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [registry],
    }),
    poison: registerPoisonCounter(registry),
    reRequested: new Counter({
      name: "gozon_reconciler_rerequests_total",
      help: "Payment requests re-sent for orders still NEW past the reconciler age",
      registers: [registry],
    }),
  };
}

export type OrdersWorkerMetrics = ReturnType<typeof createOrdersWorkerMetrics>;
