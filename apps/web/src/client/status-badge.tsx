export type OrderStatus = "NEW" | "FINISHED" | "CANCELLED";
export type CancelReason = "NO_ACCOUNT" | "INSUFFICIENT_FUNDS" | null;

export const reasonText = (reason: CancelReason) =>
  reason === "INSUFFICIENT_FUNDS" ? "insufficient funds" : reason === "NO_ACCOUNT" ? "no account" : "";

/** The words after the status: what it means for the shopper, and why a cancelled order was cancelled. */
function detail(status: OrderStatus, reason: CancelReason) {
  if (status === "NEW") return "awaiting payment";
  if (status === "FINISHED") return "paid";
  return reasonText(reason) || "cancelled";
}

/** Text, not colour alone, says the status ("CANCELLED · insufficient funds"). */
export function StatusBadge({ status, reason }: { status: OrderStatus; reason: CancelReason }) {
  return (
    <span className={`badge badge-${status.toLowerCase()}`} data-status={status}>
      {status}
      <small> · {detail(status, reason)}</small>
    </span>
  );
}
