// The order change log: one row per change of an order, written in the change's own statement
// (create-order.ts, settle-order.ts). It is the order's status history and the live feed's source.
//
// Positions. A feed resumes with "everything after position P", so positions must follow commit order:
// a change whose transaction started first but committed last must not get a position below one a
// client has already seen. Sequences and timestamps are drawn when a transaction runs, not when it
// commits. We let one assigner stamp positions AFTER commit: rows are written with a null position, and
// `assignPositions` (run by the orders worker, one run at a time under an advisory lock) numbers the
// committed, unnumbered rows max+1, max+2, … Only committed rows are visible to it, each run commits before
// the next one starts, so positions become visible in increasing order and are dense (no holes): a
// receiver that sees P+2 after P knows it missed P+1. The other known technique (record
// `pg_current_xact_id()` and hand out only rows below the snapshot's xmin horizon) gives sparse
// positions, so a lost pub/sub message cannot be noticed from the next one, and any long write
// transaction on the server (in any database) holds back every feed.
//
// A settle takes the same lock and numbers its own rows inside its one statement (`settle_orders`): it
// first stamps the waiting creates of its own orders and up to 500 others (migration
// 20261204230000, so that a backlog left by an outage is the assigner's, in batches), then writes its
// rows at max+1, … and commits holding the lock. The order of visibility is the same, and the event goes out without a second round
// trip after the commit (the live feed's latency). Creates, written by the web instances, keep the
// after-commit stamp, so that taking orders is never serialized on this lock.
import type { Order } from "@gozon/db/generated/orders/client";
import { deleteInBatches } from "@gozon/db/batches";
import { toSafeNumber } from "@gozon/db/money";
import type { SqlClient } from "@gozon/messaging/sql";
import type { OrderEvent } from "./order-events.ts";

/** A change-log row joined with its order, as the feed reads it. */
export type ChangeRow = {
  position: bigint;
  order_id: string;
  user_id: string;
  status: Order["status"];
  cancel_reason: Order["cancelReason"];
  at: Date;
  amount: bigint;
  description: string;
};

export function toEvent(row: ChangeRow): OrderEvent {
  return {
    position: toSafeNumber(row.position),
    orderId: row.order_id,
    userId: row.user_id,
    status: row.status,
    reason: row.cancel_reason,
    amount: toSafeNumber(row.amount),
    description: row.description,
    occurredAt: row.at.toISOString(),
  };
}

/**
 * Stamps positions on up to `batch` committed changes that have none yet, oldest first, and returns them
 * as events in position order. One round trip: the `assign_order_positions` function (migrations
 * 20261201060000 and 20261204230000) takes a transaction-scoped advisory lock, then stamps; concurrent
 * callers queue on the lock (a waiter then sees what the holder committed), so no committed row is left
 * unnumbered by a caller that gave up, and no position is handed out twice.
 */
export async function assignPositions(db: SqlClient, batch = 500): Promise<OrderEvent[]> {
  const rows = await db.$queryRaw<ChangeRow[]>`
    SELECT position, order_id::text, user_id::text, status, cancel_reason, at, amount, description
    FROM assign_order_positions(${batch}::int)`;
  return rows.map(toEvent);
}

/** Changes after `position`, in position order, all or one user's: a page of a feed's replay. */
export async function changesAfter(
  db: SqlClient,
  position: number,
  { userId, limit }: { userId: string | null; limit: number },
): Promise<OrderEvent[]> {
  const rows = userId
    ? await db.$queryRaw<ChangeRow[]>`
        SELECT c.position, c.order_id::text, c.user_id::text, c.status, c.cancel_reason, c.at,
               o.amount, o.description
        FROM order_changes AS c JOIN orders AS o ON o.id = c.order_id
        WHERE c.user_id = ${userId}::uuid AND c.position > ${position}
        ORDER BY c.position LIMIT ${limit}`
    : await db.$queryRaw<ChangeRow[]>`
        SELECT c.position, c.order_id::text, c.user_id::text, c.status, c.cancel_reason, c.at,
               o.amount, o.description
        FROM order_changes AS c JOIN orders AS o ON o.id = c.order_id
        WHERE c.position > ${position}
        ORDER BY c.position LIMIT ${limit}`;
  return rows.map(toEvent);
}

/** The latest `limit` positioned changes, in position order: where an admin's feed without history starts. */
export async function latestChanges(db: SqlClient, limit: number): Promise<OrderEvent[]> {
  const rows = await db.$queryRaw<ChangeRow[]>`
    SELECT * FROM (
      SELECT c.position, c.order_id::text, c.user_id::text, c.status, c.cancel_reason, c.at,
             o.amount, o.description
      FROM order_changes AS c JOIN orders AS o ON o.id = c.order_id
      WHERE c.position IS NOT NULL
      ORDER BY c.position DESC LIMIT ${limit}) AS latest
    ORDER BY position`;
  return rows.map(toEvent);
}

/** The first and last positions in the log (0 and 0 when nothing is positioned yet). */
export async function logBounds(db: SqlClient): Promise<{ first: number; last: number }> {
  const [row] = await db.$queryRaw<{ first: bigint | null; last: bigint | null }[]>`
    SELECT min(position) AS first, max(position) AS last FROM order_changes`;
  return { first: toSafeNumber(row?.first ?? 0n), last: toSafeNumber(row?.last ?? 0n) };
}

/**
 * Deletes positioned changes older than `retentionDays`, in small batches, and only from the start of the
 * log: the changes before the first position still within the retention. `at` is not in position order (a
 * create numbered after a backlog keeps its own, older time), and a change deleted from the middle would
 * be a hole that a feed resuming before it skips without a word; a feed resuming before the first kept
 * position is reset instead. The newest change is always kept, so the log still knows its last position.
 */
export async function purgeOrderLog(db: SqlClient, retentionDays: number, batchSize = 500): Promise<number> {
  const [bound] = await db.$queryRaw<{ keepFrom: bigint | null }[]>`
    SELECT coalesce(
      (SELECT min(position) FROM order_changes WHERE at >= now() - make_interval(days => ${retentionDays}::int)),
      (SELECT max(position) FROM order_changes)) AS "keepFrom"`;
  const keepFrom = bound?.keepFrom;
  if (keepFrom === null || keepFrom === undefined) return 0;
  return deleteInBatches(
    batchSize,
    () => db.$executeRaw`
      DELETE FROM order_changes WHERE id IN (
        SELECT id FROM order_changes WHERE position < ${keepFrom} ORDER BY position LIMIT ${batchSize})`,
  );
}
