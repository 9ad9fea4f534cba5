// Periodic upkeep of the payments worker: finish stranded inbox entries, purge old inbox/outbox/keys.
import { every } from "@gozon/core/every";
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
  const sweep = async (first: boolean, signal?: AbortSignal) => {
    if (first) await processPendingInbox(db, houseLog, { olderThanMs: 0, limit: 500 });
    else while (!signal?.aborted && (await processPendingInbox(db, houseLog, { olderThanMs: 2_000 })) > 0);
  };
  const purge = async () => {
    const [outbox, inbox, keys] = [
      await relay.purgeSent(retentionDays),
      await purgeInbox(db, retentionDays),
      await purgeIdempotencyKeys(db, retentionDays * 24),
    ];
    if (outbox + inbox + keys > 0) houseLog.info({ outbox, inbox, keys, retentionDays }, "purged old rows");
  };

  // The first sweep runs now and the consumer waits for it (see main.ts); later ones run on the timer.
  const firstSweep = sweep(true).catch((err: unknown) =>
    houseLog.warn({ err }, "first inbox sweep failed; the periodic sweep will retry"),
  );
  const purger = every(purgeMs, "purge", houseLog, purge);
  purger.tick();
  const tasks = [every(sweepMs, "inbox sweep", houseLog, (signal) => sweep(false, signal)), purger];
  return {
    /** Settles when the first sweep (the crash leftovers) has run, whether or not it succeeded. */
    firstSweep,
    stop: async () => {
      await firstSweep;
      await Promise.all(tasks.map((task) => task.stop()));
    },
  };
}
