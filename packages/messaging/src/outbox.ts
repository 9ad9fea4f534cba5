// Transactional outbox, part 1: a message is written in the same transaction as the change it announces.
// The row's `payload` column holds the whole envelope, so the relay publishes exactly what was written
// without knowing any contract, and `id` is the message id (the BullMQ job id when published).
import type { Message } from "./contracts.ts";
import { ROUTES, type QueuedMessageType } from "./queues.ts";
import type { SqlClient } from "./sql.ts";

/** Adds `message` to the outbox of the database `tx` belongs to; call it inside the business transaction. */
export async function writeOutbox(tx: SqlClient, message: Message<QueuedMessageType>): Promise<void> {
  const queue = ROUTES[message.type];
  await tx.$executeRaw`
    INSERT INTO outbox (id, queue, type, payload)
    VALUES (${message.messageId}::uuid, ${queue}, ${message.type}, ${JSON.stringify(message)}::jsonb)`;
}
