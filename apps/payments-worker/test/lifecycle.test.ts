import path from "node:path";
import { fileURLToPath } from "node:url";
import { describeWorkerLifecycle } from "@gozon/messaging/testing";

describeWorkerLifecycle({
  name: "payments",
  dir: path.resolve(path.dirname(fileURLToPath(import.meta.url)), ".."),
  metrics: [
    "gozon_inbox_duplicates_dropped_total",
    "gozon_payment_group_size",
    "gozon_payment_groups_failed_total",
    "gozon_poison_messages_total",
    "gozon_outbox_backlog",
    "gozon_outbox_oldest_age_seconds",
    "gozon_outbox_parked",
    "gozon_queue_jobs",
  ],
});
