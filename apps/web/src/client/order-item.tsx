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

/** The shopper an admin's list names beside each order, linked to their page. */
export type OrderShopper = { userId: string; email?: string | null };

/**
 * One order in a list, laid out alike in every list (the shop, a user's page, the admin's orders and live
 * feed): what, whose (admin lists), when, how much, and its status; linked to its page when `href` is
 * given. Who and when sit under the description, whatever its length: beside it, they moved to a line of
 * their own whenever the row was too narrow, and one list showed rows of two layouts.
 * `at` is the time shown, by default when the order was placed.
 */
export function OrderItem({
  order,
  href,
  shopper,
  at = { label: "placed", time: order.createdAt },
}: {
  order: OrderItemData;
  href?: string;
  shopper?: OrderShopper;
  at?: { label: string; time: string };
}) {
  return (
    <li className="order" data-order-id={order.id}>
      <span className="order-description">
        {href ? <Link href={href}>{order.description}</Link> : order.description}
        <small className="order-meta">
          {shopper && (
            <>
              <Link href={`/admin/users/${shopper.userId}`}>
                {shopper.email ?? `user ${shopper.userId.slice(0, 8)}`}
              </Link>{" "}
              ·{" "}
            </>
          )}
          {at.label} <When at={at.time} />
        </small>
      </span>
      <span className="order-amount">{formatRoubles(order.amount)}</span>
      <StatusBadge status={order.status} reason={order.cancelReason} />
    </li>
  );
}
