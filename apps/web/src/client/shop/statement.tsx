"use client";
import { useInfiniteQuery } from "@tanstack/react-query";
import { api, describeError } from "../api.ts";
import { StatementEntries } from "../statement.tsx";

export const ledgerKey = ["ledger"] as const;

/** The wallet's statement, newest first, a page at a time; each debit links to the order it paid. */
export function Statement() {
  const ledger = useInfiniteQuery({
    queryKey: ledgerKey,
    queryFn: ({ pageParam }) =>
      api.payments.ledger.query({ limit: 10, ...(pageParam ? { cursor: pageParam } : {}) }),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
    refetchOnWindowFocus: true, // with the balance (account-panel.tsx)
  });
  // A refetch after new entries may repeat an entry on the next page: show it once.
  const entries = [
    ...new Map((ledger.data?.pages.flatMap((page) => page.entries) ?? []).map((e) => [e.id, e])).values(),
  ];
  return (
    <div className="statement">
      <h3 id="statement-title">Statement</h3>
      {ledger.isPending ? (
        <p>Loading…</p>
      ) : ledger.isError ? (
        <p role="alert">Could not load the statement: {describeError(ledger.error).message}</p>
      ) : entries.length === 0 ? (
        <p>No entries yet: top-ups and payments for your orders appear here.</p>
      ) : (
        <StatementEntries entries={entries} orderHref={(orderId) => `/orders/${orderId}`} />
      )}
      {ledger.hasNextPage && (
        <button
          type="button"
          className="secondary"
          onClick={() => void ledger.fetchNextPage()}
          disabled={ledger.isFetchingNextPage}
        >
          {ledger.isFetchingNextPage ? "Loading…" : "Load more entries"}
        </button>
      )}
    </div>
  );
}
