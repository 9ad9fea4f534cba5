import path from "node:path";
import { fileURLToPath } from "node:url";
import { describeWorkerLifecycle } from "@gozon/messaging/testing";

describeWorkerLifecycle({
  name: "orders",
  dir: path.resolve(path.dirname(fileURLToPath(import.meta.url)), ".."),
  metrics: [
    "gozon_orders_settled_total",
    "gozon_order_settle_latency_seconds",
    "gozon_reconciler_rerequests_total",
    "gozon_poison_messages_total",
    "gozon_outbox_backlog",
    "gozon_outbox_oldest_age_seconds",
    "gozon_outbox_parked",
    "gozon_queue_jobs",
  ],
});
