// The admin lists' filters as their pages' addresses hold them. An address is typed, edited, bookmarked
// or left over from an older version: whatever in it is not a filter the list takes is read as no filter
// (the list shows, unfiltered there), never a page that cannot load.
import { uuidInputSchema } from "@gozon/api/inputs";
import type { ParamChanges } from "./url-state.ts";
import type { OrderStatus } from "./status-badge.tsx";

type Params = Pick<URLSearchParams, "get">;

const ORDER_STATUSES: readonly string[] = ["NEW", "FINISHED", "CANCELLED"] satisfies OrderStatus[];
const OUTCOMES: readonly string[] = ["SUCCEEDED", "FAILED"];
/** The API's longest email (and email filter). */
const MAX_EMAIL = 254;

const userIdSchema = uuidInputSchema();

/** A user id as the API takes it (lower-cased, as it writes ids), or "" for anything else. */
export function readUserId(text: string | null): string {
  const parsed = userIdSchema.safeParse(text ?? "");
  return parsed.success ? parsed.data : "";
}

/** A day as a date field holds it ("2026-12-31"), a day that exists; "" for anything else. */
export function readDay(text: string | null): string {
  if (!text || !/^\d{4}-\d{2}-\d{2}$/.test(text)) return "";
  const date = new Date(`${text}T00:00:00Z`);
  // 2026-02-30 parses (as 2 March): only a day that reads back the same is one.
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === text ? text : "";
}

/** Email text the API takes as a filter (trimmed); "" for blank or unusable text (too long, a NUL). */
export function readEmail(text: string | null): string {
  const email = (text ?? "").trim();
  return email.length <= MAX_EMAIL && !email.includes("\u0000") ? email : "";
}

export type OrderFilters = {
  status: "" | OrderStatus;
  email: string;
  from: string;
  to: string;
  /** Set by a user's page linking here ("this user's orders"), not by the filter form. */
  userId: string;
};

export function readOrderFilters(params: Params): OrderFilters {
  const status = params.get("status") ?? "";
  let from = readDay(params.get("from"));
  let to = readDay(params.get("to"));
  // A range that ends before it starts is refused by the API: neither end is a filter then.
  if (from && to && from > to) from = to = "";
  return {
    status: ORDER_STATUSES.includes(status) ? (status as OrderStatus) : "",
    email: readEmail(params.get("email")),
    from,
    to,
    userId: readUserId(params.get("userId")),
  };
}

/** The address's parameters for the filter form's values; `userId` stays as the address has it. */
export function orderFilterParams(filters: Omit<OrderFilters, "userId">): ParamChanges {
  return {
    status: filters.status || null,
    email: filters.email.trim() || null,
    from: filters.from || null,
    to: filters.to || null,
  };
}

export type Outcome = "" | "SUCCEEDED" | "FAILED";

export function readPaymentFilters(params: Params): { outcome: Outcome; userId: string } {
  const outcome = params.get("outcome") ?? "";
  return {
    outcome: OUTCOMES.includes(outcome) ? (outcome as Outcome) : "",
    userId: readUserId(params.get("userId")),
  };
}

/**
 * The top-up page's search (`email`: null before any search; "" is a search for everyone) and the user
 * selected among its results (`user`).
 */
export function readUserSearch(params: Params): { email: string | null; user: string | null } {
  const email = params.get("email");
  return {
    email: email === null ? null : readEmail(email),
    user: readUserId(params.get("user")) || null,
  };
}
