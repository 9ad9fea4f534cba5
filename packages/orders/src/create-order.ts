import { randomUUID } from "node:crypto";
import { idempotent } from "@gozon/db/idempotency";
import { buildMessage } from "@gozon/messaging/contracts";
import { writeOutbox } from "@gozon/messaging/outbox";
import type { PaymentRequested } from "@gozon/messaging/contracts";
import type { TransactionalSqlClient } from "@gozon/messaging/sql";
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
  const order = await idempotent(db, key, async (tx) => {
    // The order and its first change-log row (NEW) in one statement: one round trip.
    const [row] = await tx.$queryRaw<OrderRow[]>`
      WITH created AS (
        INSERT INTO orders (id, user_id, amount, description, payment_request_id, updated_at)
        VALUES (${orderId}::uuid, ${input.userId}::uuid, ${BigInt(input.amount)}, ${input.description},
                ${request.messageId}::uuid, now())
        RETURNING *
      ), logged AS (
        INSERT INTO order_changes (order_id, user_id, status, at)
        SELECT id, user_id, status, created_at FROM created
      )
      SELECT * FROM created`;
    await writeOutbox(tx, request, { direct: publish !== undefined });
    return toOrderDto(orderFromRow(row!));
  });
  // A replayed Idempotency-Key returns the order made the first time: this request was never stored.
  if (publish && order.id === orderId) await publish(request);
  return order;
}
