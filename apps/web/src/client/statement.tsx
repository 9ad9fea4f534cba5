import Link from "next/link";
import { formatRoubles } from "./money.ts";
import { When } from "./when.tsx";

export type LedgerEntry = {
  id: string;
  kind: "TOP_UP" | "ORDER_DEBIT";
  amount: number;
  balanceAfter: number;
  orderId: string | null;
  createdAt: string;
};

/** A top-up reads "+500,00 ₽", a debit "−250,00 ₽": the sign is in the amount, never worked out here. */
const signed = (kopecks: number) => (kopecks > 0 ? "+" : "") + formatRoubles(kopecks);

/**
 * Account entries, newest first, each with the balance right after it. With `orderHref` a debit links to
 * its order (the shopper's own order page); without it the order id is shown as text.
 */
export function StatementEntries({
  entries,
  orderHref,
}: {
  entries: LedgerEntry[];
  orderHref?: (orderId: string) => string;
}) {
  return (
    <ul className="entries" aria-label="Statement">
      {entries.map((entry) => (
        <li key={entry.id} data-kind={entry.kind}>
          <span className="entry-what">
            {entry.kind === "TOP_UP" ? (
              "Top-up"
            ) : entry.orderId && orderHref ? (
              <Link href={orderHref(entry.orderId)}>Payment for order {entry.orderId.slice(0, 8)}</Link>
            ) : (
              <>
                Payment for order <span title={entry.orderId ?? undefined}>{entry.orderId?.slice(0, 8)}</span>
              </>
            )}
            <small className="order-meta">
              <When at={entry.createdAt} />
            </small>
          </span>
          <span className="entry-figures">
            <span className={entry.amount < 0 ? "amount-debit" : "amount-credit"}>
              {signed(entry.amount)}
            </span>
            <small className="entry-balance">balance {formatRoubles(entry.balanceAfter)}</small>
          </span>
        </li>
      ))}
    </ul>
  );
}
