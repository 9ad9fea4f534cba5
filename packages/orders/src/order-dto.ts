import type { Order } from "@gozon/db/generated/orders/client";
import { toSafeNumber } from "@gozon/db/money";

/** An order as the API returns it: money as an integer number of minor units, times as ISO strings. */
export type OrderDto = {
  id: string;
  userId: string;
  amount: number;
  description: string;
  status: Order["status"];
  cancelReason: Order["cancelReason"];
  createdAt: string;
  updatedAt: string;
};

export function toOrderDto(order: Order): OrderDto {
  return {
    id: order.id,
    userId: order.userId,
    amount: toSafeNumber(order.amount),
    description: order.description,
    status: order.status,
    cancelReason: order.cancelReason,
    createdAt: order.createdAt.toISOString(),
    updatedAt: order.updatedAt.toISOString(),
  };
}
