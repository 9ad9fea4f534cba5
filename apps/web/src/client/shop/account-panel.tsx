"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, describeError, fieldMessage } from "../api.ts";
import { Field } from "../field.tsx";
import { formatRoubles, parseRoubles } from "../money.ts";

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
  });
}

export function AccountPanel() {
  const queryClient = useQueryClient();
  const account = useAccount();
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
          <TopUpForm />
        </>
      )}
    </section>
  );
}

function TopUpForm() {
  const queryClient = useQueryClient();
  const [amount, setAmount] = useState("");
  const [error, setError] = useState<string>();
  const topUp = useMutation({
    mutationFn: (kopecks: number) =>
      api.payments.topUp.mutate({ amount: kopecks, idempotencyKey: crypto.randomUUID() }),
    onSuccess: ({ account }) => {
      queryClient.setQueryData(accountKey, account);
      setAmount("");
    },
    onError: (caught) => {
      const info = describeError(caught);
      setError(fieldMessage("Amount", info.fields.amount) ?? info.message);
    },
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const parsed = parseRoubles(amount);
    if (!parsed.ok) return setError(parsed.error);
    setError(undefined);
    topUp.mutate(parsed.kopecks);
  };

  return (
    <form onSubmit={submit} noValidate className="inline-form">
      <Field
        id="topup-amount"
        label="Top-up amount (₽)"
        inputMode="decimal"
        placeholder="1 000,00"
        value={amount}
        onChange={(e) => setAmount(e.target.value)}
        error={error}
      />
      <button type="submit" disabled={topUp.isPending}>
        {topUp.isPending ? "Topping up…" : "Top up"}
      </button>
    </form>
  );
}
