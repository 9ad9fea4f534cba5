"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, describeError } from "../api.ts";
import { useBalanceChanges } from "../live.ts";
import { formatRoubles } from "../money.ts";
import { TopUpForm } from "../top-up-form.tsx";
import { ledgerKey, Statement } from "./statement.tsx";

export const accountKey = ["account"] as const;

export function useAccount() {
  return useQuery({
    queryKey: accountKey,
    queryFn: async () => {
      try {
        return (await api.payments.getAccount.query()).account;
      } catch (error) {
        if (describeError(error).code === "NOT_FOUND") return null;
        throw error;
      }
    },
    // Also read again when the shopper comes back to this tab: cheap, and it covers a missed change.
    refetchOnWindowFocus: true,
  });
}

export function AccountPanel() {
  const queryClient = useQueryClient();
  const account = useAccount();
  // A top-up made elsewhere shows at once, and the statement gets its line; so does an account opened in
  // another tab, while this one still offers to open one.
  useBalanceChanges(account.isSuccess, () => {
    void queryClient.invalidateQueries({ queryKey: accountKey });
    void queryClient.invalidateQueries({ queryKey: ledgerKey });
  });
  const open = useMutation({
    mutationFn: () => api.payments.createAccount.mutate(),
    onSuccess: ({ account: created }) => queryClient.setQueryData(accountKey, created),
    // Opened meanwhile (another tab): show the account that exists.
    onError: (caught) => {
      if (describeError(caught).code === "CONFLICT")
        void queryClient.invalidateQueries({ queryKey: accountKey });
    },
  });

  return (
    <section aria-labelledby="account-title" className="card">
      <h2 id="account-title">Your wallet</h2>
      {account.isPending ? (
        <p>Loading…</p>
      ) : account.isError ? (
        <p role="alert">{describeError(account.error).message}</p>
      ) : account.data === null ? (
        <>
          <p>You have no account yet. Open one to pay for orders.</p>
          <button type="button" onClick={() => open.mutate()} disabled={open.isPending}>
            Open account
          </button>
          {open.isError && <p role="alert">{describeError(open.error).message}</p>}
        </>
      ) : (
        <>
          <p className="balance">
            Balance: <strong data-testid="balance">{formatRoubles(account.data.balance)}</strong>
          </p>
          <TopUpForm
            id="topup-amount"
            placeholder="1 000,00"
            topUp={(amount, idempotencyKey) => api.payments.topUp.mutate({ amount, idempotencyKey })}
            onTopUp={(updated) => {
              queryClient.setQueryData(accountKey, updated);
              void queryClient.invalidateQueries({ queryKey: ledgerKey });
            }}
          />
          <Statement />
        </>
      )}
    </section>
  );
}
