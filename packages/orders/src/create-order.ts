import type { OrdersClient } from "@gozon/db/clients";
import { idempotent } from "@gozon/db/idempotency";
import { buildMessage } from "@gozon/messaging/contracts";
import { writeOutbox } from "@gozon/messaging/outbox";
import { toOrderDto, type OrderDto } from "./order-dto.ts";

export type CreateOrderInput = { userId: string; amount: number; description: string };

/**
 * The order (NEW) and its PaymentRequested outbox row commit together, or neither does: the relay
 * then delivers the request at least once (transactional outbox, part 1).
 */
export async function createOrder(
  db: OrdersClient,
  input: CreateOrderInput,
  idempotencyKey?: string,
): Promise<OrderDto> {
  const key = idempotencyKey
    ? {
        userId: input.userId,
        scope: "orders.create",
        key: idempotencyKey,
        request: { amount: input.amount, description: input.description },
      }
    : null;
  return idempotent(db, key, async (tx) => {
    const order = await tx.order.create({
      data: { userId: input.userId, amount: BigInt(input.amount), description: input.description },
    });
    await writeOutbox(
      tx,
      buildMessage("PaymentRequested", { orderId: order.id, userId: order.userId, amount: input.amount }),
    );
    return toOrderDto(order);
  });
}
