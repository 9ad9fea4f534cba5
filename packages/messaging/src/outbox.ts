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

/**
 * Adds `message` to the outbox of the database `tx` belongs to; call it inside the business transaction.
 * With `direct`, the caller publishes it right after the commit (`publishCommitted`), and the relay only
 * if that did not happen within DIRECT_PUBLISH_GRACE_MS.
 */
export async function writeOutbox(
  tx: SqlClient,
  message: Message<QueuedMessageType>,
  { direct = false }: { direct?: boolean } = {},
): Promise<void> {
  const queue = ROUTES[message.type];
  const graceSeconds = direct ? DIRECT_PUBLISH_GRACE_MS / 1000 : null;
  await tx.$executeRaw`
    INSERT INTO outbox (id, queue, type, payload, relay_after)
    VALUES (${message.messageId}::uuid, ${queue}, ${message.type}, ${JSON.stringify(message)}::jsonb,
            now() + make_interval(secs => ${graceSeconds}::float8))`;
}

/**
 * Adds all `messages` in one INSERT: one round trip, and one wake-up of the relays (the notify trigger
 * runs per statement). Otherwise as `writeOutbox` (without `direct`: the relay publishes them).
 */
export async function writeOutboxMany(tx: SqlClient, messages: Message<QueuedMessageType>[]): Promise<void> {
  if (messages.length === 0) return;
  await tx.$executeRaw`
    INSERT INTO outbox (id, queue, type, payload)
    SELECT * FROM unnest(${messages.map((m) => m.messageId)}::uuid[], ${messages.map((m) => ROUTES[m.type])}::text[],
                         ${messages.map((m) => m.type)}::text[], ${messages.map((m) => JSON.stringify(m))}::jsonb[])`;
}
