// Inbox upkeep: finish entries stored but never processed (left by an older worker), and purge processed
// ones after the retention.
import type { Logger } from "@gozon/core/logger";
import { deleteInBatches } from "@gozon/db/batches";
import type { SqlClient, TransactionalSqlClient } from "@gozon/messaging/sql";
import { processInboxEntry } from "./process-payment.ts";

/**
 * Processes inbox entries stored more than `olderThanMs` ago and still unprocessed. The consumer stores
 * and decides in one statement, so only a worker from before that (which stored, then decided) or a
 * hand-made row leaves one; the age keeps a sweep off an entry a consumer of that kind holds right now.
 * Returns how many entries it handled.
 */
export async function processPendingInbox(
  db: TransactionalSqlClient,
  log: Logger,
  { olderThanMs = 2_000, limit = 100 }: { olderThanMs?: number; limit?: number } = {},
): Promise<number> {
  const pending = await db.$queryRaw<{ messageId: string }[]>`
    SELECT message_id::text AS "messageId" FROM inbox
    WHERE processed_at IS NULL AND received_at < now() - make_interval(secs => ${olderThanMs / 1000}::float8)
    ORDER BY received_at
    LIMIT ${limit}`;
  let handled = 0;
  for (const { messageId } of pending) {
    try {
      const outcome = await processInboxEntry(db, messageId, log);
      if (outcome.status === "decided" || outcome.status === "resent") {
        handled++;
        log.info({ messageId, status: outcome.status }, "pending inbox entry processed by the sweep");
      }
    } catch (err) {
      log.warn({ err, messageId }, "pending inbox entry failed; will retry");
    }
  }
  return handled;
}

/** Deletes processed entries older than `retentionDays`, in small batches; unprocessed ones are kept. */
export async function purgeInbox(db: SqlClient, retentionDays: number, batchSize = 500): Promise<number> {
  return deleteInBatches(
    batchSize,
    () => db.$executeRaw`
      DELETE FROM inbox WHERE message_id IN (
        SELECT message_id FROM inbox
        WHERE processed_at IS NOT NULL AND processed_at < now() - make_interval(days => ${retentionDays}::int)
        LIMIT ${batchSize}
        FOR UPDATE SKIP LOCKED)`,
  );
}
