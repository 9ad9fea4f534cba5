"use client";
import { toast } from "react-toastify";
import type { OrderEvent } from "./live.ts";
import { formatRoubles } from "./money.ts";
import { reasonText } from "./status-badge.tsx";

/** Characters of a description a toast shows: a 500-character one would cover the page for seconds. */
export const TOAST_DESCRIPTION_MAX = 60;

/** The description as a toast shows it: whole when short, else cut at a character boundary with "…". */
export function toastDescription(description: string): string {
  const characters = Array.from(description);
  return characters.length <= TOAST_DESCRIPTION_MAX
    ? description
    : `${characters.slice(0, TOAST_DESCRIPTION_MAX - 1).join("")}…`;
}

/** Settles toasted in this tab, by order and status; the oldest are forgotten past the bound. */
const toasted = new Set<string>();
const MAX_TOASTED = 5_000;

/**
 * Whether this settle is new to the tab. A feed may hand the same settle over again: the shop shown
 * again resumes from the position its cached list was read at, and the order's page has its own feed.
 */
function firstTime(event: OrderEvent): boolean {
  const key = `${event.orderId}:${event.status}`;
  if (toasted.has(key)) return false;
  toasted.add(key);
  if (toasted.size > MAX_TOASTED) toasted.delete(toasted.values().next().value!);
  return true;
}

/** The toast for a settled order (paid or cancelled, with the reason), once per tab; none for a new one. */
export function toastSettled(event: OrderEvent) {
  if (event.status === "NEW" || !firstTime(event)) return;
  const what = `Order “${toastDescription(event.description)}”`;
  if (event.status === "FINISHED") toast.success(`${what} paid: ${formatRoubles(event.amount)}`);
  else if (event.status === "CANCELLED") toast.error(`${what} cancelled: ${reasonText(event.reason)}`);
}
