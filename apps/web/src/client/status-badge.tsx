export type OrderStatus = "NEW" | "FINISHED" | "CANCELLED";
export type CancelReason = "NO_ACCOUNT" | "INSUFFICIENT_FUNDS" | null;

export const reasonText = (reason: CancelReason) =>
  reason === "INSUFFICIENT_FUNDS" ? "insufficient funds" : reason === "NO_ACCOUNT" ? "no account" : "";

const label: Record<OrderStatus, string> = {
  NEW: "Awaiting payment",
  FINISHED: "Paid",
  CANCELLED: "Cancelled",
};

/** Text, not colour alone, says the status. */
export function StatusBadge({ status, reason }: { status: OrderStatus; reason: CancelReason }) {
  return (
    <span className={`badge badge-${status.toLowerCase()}`} data-status={status}>
      {status}
      <span className="visually-hidden"> — </span>
      <small>
        {" "}
        {label[status]}
        {status === "CANCELLED" && reason ? `: ${reasonText(reason)}` : ""}
      </small>
    </span>
  );
}
