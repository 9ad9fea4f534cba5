// Transactional outbox, part 1: a message is written in the same transaction as the change it announces.
// The row's `payload` column holds the whole envelope, so the relay publishes exactly what was written
// without knowing any contract, and `id` is the message id (the BullMQ job id when published).
import type { Message } from "./contracts.ts";
import { ROUTES, type QueuedMessageType } from "./queues.ts";
import type { SqlClient } from "./sql.ts";

/**
 * How long a row written with `direct` is left to its writer before the relay publishes it: long enough
 * for the writer's publish right after the commit, short enough that a crash in between costs little.
 */
export const DIRECT_PUBLISH_GRACE_MS = 2_000;

type WriteOptions = {
  /**
   * The caller publishes the rows right after the commit (`createCommittedPublisher`); the relay does
   * only if that did not happen within DIRECT_PUBLISH_GRACE_MS.
   */
  direct?: boolean;
};

/** Adds `message` to the outbox of the database `tx` belongs to; call it inside the business transaction. */
export function writeOutbox(tx: SqlClient, message: Message<QueuedMessageType>, options: WriteOptions = {}) {
  return writeOutboxMany(tx, [message], options);
}

/**
 * Adds all `messages` in one INSERT: one round trip, and one wake-up of the relays (the notify trigger
 * runs per statement, and not at all for `direct` rows).
 */
export async function writeOutboxMany(
  tx: SqlClient,
  messages: Message<QueuedMessageType>[],
  { direct = false }: WriteOptions = {},
): Promise<void> {
  if (messages.length === 0) return;
  const rows = outboxColumns(messages, { direct });
  await tx.$executeRaw`
    INSERT INTO outbox (id, queue, type, payload, relay_after)
    SELECT m.id, m.queue, m.type, m.payload, now() + make_interval(secs => ${rows.graceSeconds}::float8)
    FROM unnest(${rows.ids}::uuid[], ${rows.queues}::text[], ${rows.types}::text[], ${rows.payloads}::jsonb[])
      AS m(id, queue, type, payload)`;
}

/** The grace before the relay takes a row (`relay_after = now() + it`); null for the relay at once. */
export const graceSeconds = (direct: boolean) => (direct ? DIRECT_PUBLISH_GRACE_MS / 1000 : null);

/** Several outbox rows' values as columns, for `unnest`. */
function outboxColumns(messages: Message<QueuedMessageType>[], options: WriteOptions = {}) {
  const rows = messages.map((m) => outboxRow(m, options));
  return {
    ids: rows.map((r) => r.id),
    queues: rows.map((r) => r.queue),
    types: rows.map((r) => r.type),
    payloads: rows.map((r) => r.payload),
    graceSeconds: graceSeconds(options.direct ?? false),
  };
}

/**
 * An outbox row's values, for a caller that writes its row inside its own statement (one round trip for
 * the change and its message; see create-order.ts). Insert them as `writeOutboxMany` does, with
 * `relay_after = now() + make_interval(secs => graceSeconds(direct))`.
 */
export function outboxRow(message: Message<QueuedMessageType>, { direct = false }: WriteOptions = {}) {
  return {
    id: message.messageId,
    queue: ROUTES[message.type],
    type: message.type,
    payload: JSON.stringify(message),
    graceSeconds: graceSeconds(direct),
  };
}

/** A parked outbox row as admins see it (see outbox-relay.ts for parking). */
export type ParkedOutboxRow = {
  id: string;
  queue: string;
  type: string;
  attempts: number;
  failures: number;
  lastError: string | null;
  createdAt: string;
  parkedAt: string;
};

export type ParkedOutbox = { parked: number; latest: ParkedOutboxRow[] };

/** How many rows of this outbox are parked, and the `limit` parked most recently. */
export async function readParkedOutbox(db: SqlClient, limit: number): Promise<ParkedOutbox> {
  const [counted, rows] = await Promise.all([
    db.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM outbox WHERE parked_at IS NOT NULL`,
    db.$queryRaw<
      {
        id: string;
        queue: string;
        type: string;
        attempts: number;
        failures: number;
        last_error: string | null;
        created_at: Date;
        parked_at: Date;
      }[]
    >`
      SELECT id::text AS id, queue, type, attempts, failures, last_error, created_at, parked_at
      FROM outbox WHERE parked_at IS NOT NULL
      ORDER BY parked_at DESC
      LIMIT ${limit}`,
  ]);
  return {
    parked: Number(counted[0]?.n ?? 0),
    latest: rows.map((row) => ({
      id: row.id,
      queue: row.queue,
      type: row.type,
      attempts: row.attempts,
      failures: row.failures,
      lastError: row.last_error,
      createdAt: row.created_at.toISOString(),
      parkedAt: row.parked_at.toISOString(),
    })),
  };
}
