export type OrderStatus = "NEW" | "FINISHED" | "CANCELLED";
export type CancelReason = "NO_ACCOUNT" | "INSUFFICIENT_FUNDS" | null;

export const reasonText = (reason: CancelReason) =>
  reason === "INSUFFICIENT_FUNDS" ? "insufficient funds" : reason === "NO_ACCOUNT" ? "no account" : "";

/** A status in the shop's words ("Paid"), for badges, counts and filters; the enum stays in `data-status`. */
export const statusLabel = (status: OrderStatus) =>
  status === "NEW" ? "Awaiting payment" : status === "FINISHED" ? "Paid" : "Cancelled";

/** Text, not colour alone, says the status, and why a cancelled order was cancelled ("Cancelled · no account"). */
export function StatusBadge({ status, reason }: { status: OrderStatus; reason: CancelReason }) {
  const why = status === "CANCELLED" ? reasonText(reason) : "";
  return (
    <span className={`badge badge-${status.toLowerCase()}`} data-status={status}>
      {statusLabel(status)}
      {why && <small> · {why}</small>}
    </span>
  );
}
