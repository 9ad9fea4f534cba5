// Periodic upkeep of the payments worker: finish stranded inbox entries, purge old inbox/outbox/keys.
import type { Logger } from "@gozon/core/logger";
import { purgeIdempotencyKeys } from "@gozon/db/idempotency";
import type { OutboxRelay } from "@gozon/messaging/outbox-relay";
import type { TransactionalSqlClient } from "@gozon/messaging/sql";
import { processPendingInbox, purgeInbox } from "@gozon/payments/inbox";

export type HousekeepingOptions = {
  db: TransactionalSqlClient;
  relay: OutboxRelay;
  log: Logger;
  retentionDays: number;
  /** How often stored-but-unprocessed inbox entries are looked for (also once at start). */
  sweepMs?: number;
  purgeMs?: number;
};

export function startHousekeeping({
  db,
  relay,
  log,
  retentionDays,
  sweepMs = 5_000,
  purgeMs = 60 * 60_000,
}: HousekeepingOptions) {
  const houseLog = log.child({ component: "housekeeping" });

  // At start, whatever is unprocessed is most likely left over from a crash: one pass takes it at any age
  // (sharing an entry with a consumer on it right now is harmless: the entry lock serializes them). Later
  // sweeps skip entries young enough to be in a consumer's hands, and go on while they find work.
  const sweep = async (first: boolean) => {
    if (first) await processPendingInbox(db, houseLog, { olderThanMs: 0, limit: 500 });
    else while ((await processPendingInbox(db, houseLog, { olderThanMs: 2_000 })) > 0);
  };
  const purge = async () => {
    const [outbox, inbox, keys] = [
      await relay.purgeSent(retentionDays),
      await purgeInbox(db, retentionDays),
      await purgeIdempotencyKeys(db, retentionDays * 24),
    ];
    if (outbox + inbox + keys > 0) houseLog.info({ outbox, inbox, keys, retentionDays }, "purged old rows");
  };

  const sweeper = every("inbox sweep", sweepMs, sweep, houseLog);
  const tasks = [sweeper, every("purge", purgeMs, purge, houseLog)];
  return {
    /** Settles when the first sweep (the crash leftovers) has run, whether or not it succeeded. */
    firstSweep: sweeper.first,
    stop: () => Promise.all(tasks.map((task) => task.stop())).then(() => undefined),
  };
}

/** Runs `task` now and then every `ms`, never overlapping itself; a failure is logged and retried later. */
function every(name: string, ms: number, task: (first: boolean) => Promise<void>, log: Logger) {
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let first = true;
  const tick = () => {
    running = task(first)
      .catch((err: unknown) => log.warn({ err, task: name }, "housekeeping task failed"))
      .finally(() => {
        first = false;
        if (!stopped) timer = setTimeout(tick, ms);
      });
  };
  tick();
  return {
    first: running,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
