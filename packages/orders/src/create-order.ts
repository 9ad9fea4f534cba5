import { randomUUID } from "node:crypto";
import { idempotent } from "@gozon/db/idempotency";
import { buildMessage } from "@gozon/messaging/contracts";
import { outboxRow } from "@gozon/messaging/outbox";
import type { PaymentRequested } from "@gozon/messaging/contracts";
import type { SqlClient, TransactionalSqlClient } from "@gozon/messaging/sql";
import { toOrderDto, type OrderDto } from "./order-dto.ts";
import { orderFromRow, type OrderRow } from "./order-row.ts";

export type CreateOrderInput = { userId: string; amount: number; description: string };

/**
 * The order (NEW), its change-log row and its PaymentRequested outbox row commit together, or none
 * does: the request is then delivered at least once (transactional outbox). With `publish`, the request
 * is handed to it right after the commit (see @gozon/messaging/outbox-publisher), and the relay delivers
 * it only if that fails; without, the relay does at once.
 */
export async function createOrder(
  db: TransactionalSqlClient,
  input: CreateOrderInput,
  idempotencyKey?: string,
  publish?: (request: PaymentRequested) => Promise<void>,
): Promise<OrderDto> {
  const key = idempotencyKey
    ? {
        userId: input.userId,
        scope: "orders.create",
        key: idempotencyKey,
        request: { amount: input.amount, description: input.description },
      }
    : null;
  const orderId = randomUUID();
  const request = buildMessage("PaymentRequested", { orderId, userId: input.userId, amount: input.amount });
  const outbox = outboxRow(request, { direct: publish !== undefined });
  // The order, its first change-log row (NEW) and its request's outbox row in one statement: atomic on
  // its own, so without an Idempotency-Key it needs no BEGIN and COMMIT (one round trip, not four).
  const insert = async (tx: SqlClient) => {
    const [row] = await tx.$queryRaw<OrderRow[]>`
      WITH created AS (
        INSERT INTO orders (id, user_id, amount, description, payment_request_id, updated_at)
        VALUES (${orderId}::uuid, ${input.userId}::uuid, ${BigInt(input.amount)}, ${input.description},
                ${request.messageId}::uuid, now())
        RETURNING *
      ), logged AS (
        INSERT INTO order_changes (order_id, user_id, status, at)
        SELECT id, user_id, status, created_at FROM created
      ), queued AS (
        INSERT INTO outbox (id, queue, type, payload, relay_after)
        VALUES (${outbox.id}::uuid, ${outbox.queue}, ${outbox.type}, ${outbox.payload}::jsonb,
                now() + make_interval(secs => ${outbox.graceSeconds}::float8))
      )
      SELECT * FROM created`;
    return toOrderDto(orderFromRow(row!));
  };
  const order = key ? await idempotent(db, key, insert) : await insert(db);
  // A replayed Idempotency-Key returns the order made the first time: this request was never stored.
  if (publish && order.id === orderId) await publish(request);
  return order;
}
