import { reasonText, type CancelReason, type OrderStatus } from "./status-badge.tsx";
import { When } from "./when.tsx";

export type HistoryEntry = { status: OrderStatus; reason: CancelReason; at: string };

const label = (entry: HistoryEntry) =>
  entry.status === "NEW"
    ? "Placed"
    : entry.status === "FINISHED"
      ? "Paid"
      : `Cancelled: ${reasonText(entry.reason) || "payment failed"}`;

/** An order's changes, oldest first; while it is still NEW, the step it waits for is written out. */
export function Timeline({ history }: { history: HistoryEntry[] }) {
  const settled = history.some((entry) => entry.status !== "NEW");
  return (
    <ol className="timeline" aria-label="Order history" aria-live="polite">
      {history.map((entry, index) => (
        <li key={index} data-status={entry.status} className={`step step-${entry.status.toLowerCase()}`}>
          <strong>{label(entry)}</strong> <When at={entry.at} />
        </li>
      ))}
      {!settled && (
        <li className="step step-pending" data-status="PENDING">
          <strong>Awaiting payment…</strong> this page updates by itself
        </li>
      )}
    </ol>
  );
}
