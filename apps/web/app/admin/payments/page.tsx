"use client";
import { useInfiniteQuery } from "@tanstack/react-query";
import Link from "next/link";
import { Suspense } from "react";
import { readPaymentFilters, type Outcome } from "../../../src/client/admin-filters.ts";
import { api, describeError } from "../../../src/client/api.ts";
import { formatRoubles } from "../../../src/client/money.ts";
import { SelectField } from "../../../src/client/select-field.tsx";
import { reasonText } from "../../../src/client/status-badge.tsx";
import { pathWith, useUrlState, withParams } from "../../../src/client/url-state.ts";
import { Waiting } from "../../../src/client/waiting.tsx";
import { When } from "../../../src/client/when.tsx";
import { useRequireUser } from "../../../src/client/session.ts";

const outcomeOptions = [
  { value: "", label: "Any outcome" },
  { value: "SUCCEEDED", label: "Charged" },
  { value: "FAILED", label: "Refused" },
] as const;

/** The payments service's decisions, newest first: what was charged, and what was refused and why. */
export default function AdminPaymentsPage() {
  return (
    <Suspense>
      <AdminPayments />
    </Suspense>
  );
}

/**
 * The filters are the address's: `?outcome`, and `userId` (linked from a user's page) to narrow the list
 * to that user. Back and a reload show the same list.
 */
function AdminPayments() {
  const { user, session } = useRequireUser({ admin: true });
  const url = useUrlState();
  const { outcome, userId } = readPaymentFilters(url.params);
  const list = useInfiniteQuery({
    queryKey: ["admin-payments", userId, outcome],
    queryFn: ({ pageParam }) =>
      api.admin.listPayments.query({
        ...(userId ? { userId } : {}),
        ...(outcome ? { outcome } : {}),
        limit: 20,
        ...(pageParam ? { cursor: pageParam } : {}),
      }),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
    enabled: !!user,
    retry: false,
  });

  if (!user) return <Waiting error={session.error} retry={() => void session.refetch()} />;
  const payments = list.data?.pages.flatMap((page) => page.payments) ?? [];
  return (
    <main>
      <h1>Payments</h1>
      <div className="filters card">
        <SelectField
          id="filter-outcome"
          label="Outcome"
          options={outcomeOptions}
          value={outcome}
          onChange={(e) => url.update({ outcome: (e.target.value as Outcome) || null })}
        />
        <div className="filter-actions">
          <button type="button" className="secondary" onClick={() => void list.refetch()}>
            Refresh
          </button>
        </div>
      </div>
      {userId && (
        <p>
          Only the payments of <Link href={`/admin/users/${userId}`}>this user</Link>.{" "}
          <Link href={pathWith("/admin/payments", withParams(url.params, { userId: null }))}>
            Show everyone&apos;s payments
          </Link>
        </p>
      )}
      {list.isPending ? (
        <p role="status">Loading…</p>
      ) : list.isError ? (
        <p role="alert">Could not load the payments: {describeError(list.error).message}</p>
      ) : payments.length === 0 ? (
        <p>No payments {outcome ? "with this outcome " : ""}yet.</p>
      ) : (
        <ul className="orders" aria-label="Payments">
          {payments.map((payment) => (
            <li key={payment.orderId} className="order" data-order-id={payment.orderId}>
              <span className="order-description">
                Order <span className="mono">{payment.orderId.slice(0, 8)}</span>
                <small className="order-meta">
                  <Link href={`/admin/users/${payment.userId}`}>
                    {payment.email ?? `user ${payment.userId.slice(0, 8)}`}
                  </Link>{" "}
                  · decided <When at={payment.decidedAt} />
                </small>
              </span>
              <span className="order-amount">{formatRoubles(payment.amount)}</span>
              <span
                className={`badge ${payment.outcome === "SUCCEEDED" ? "badge-finished" : "badge-cancelled"}`}
                data-outcome={payment.outcome}
              >
                {payment.outcome === "SUCCEEDED" ? "Charged" : "Refused"}
                {payment.outcome === "FAILED" && <small> · {reasonText(payment.reason) || "refused"}</small>}
              </span>
            </li>
          ))}
        </ul>
      )}
      {list.hasNextPage && (
        <button
          type="button"
          className="secondary"
          onClick={() => void list.fetchNextPage()}
          disabled={list.isFetchingNextPage}
        >
          {list.isFetchingNextPage ? "Loading…" : "Load more"}
        </button>
      )}
    </main>
  );
}
