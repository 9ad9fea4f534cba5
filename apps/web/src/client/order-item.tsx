import Link from "next/link";
import { formatRoubles } from "./money.ts";
import { StatusBadge, type CancelReason, type OrderStatus } from "./status-badge.tsx";
import { When } from "./when.tsx";

export type OrderItemData = {
  id: string;
  description: string;
  amount: number;
  status: OrderStatus;
  cancelReason: CancelReason;
  createdAt: string;
};

/** One order in a list: what, when placed, how much, and its status; linked to its page when `href` is given. */
export function OrderItem({ order, href }: { order: OrderItemData; href?: string }) {
  return (
    <li className="order" data-order-id={order.id}>
      <span className="order-description">
        {href ? <Link href={href}>{order.description}</Link> : order.description}
        <small className="order-meta">
          placed <When at={order.createdAt} />
        </small>
      </span>
      <span className="order-amount">{formatRoubles(order.amount)}</span>
      <StatusBadge status={order.status} reason={order.cancelReason} />
    </li>
  );
}
