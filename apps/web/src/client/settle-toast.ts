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

/** The toast for a settled order (paid or cancelled, with the reason); nothing for a new one. */
export function toastSettled(event: OrderEvent) {
  const what = `Order “${toastDescription(event.description)}”`;
  if (event.status === "FINISHED") toast.success(`${what} paid: ${formatRoubles(event.amount)}`);
  else if (event.status === "CANCELLED") toast.error(`${what} cancelled: ${reasonText(event.reason)}`);
}
