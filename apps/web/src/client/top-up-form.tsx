"use client";
import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { describeError, fieldMessage } from "./api.ts";
import { Field } from "./field.tsx";
import { formatRoubles, parseRoubles } from "./money.ts";
import { offlineNotice } from "./offline-notice.ts";

type Account = { userId: string; balance: number };

/**
 * A roubles amount parsed exactly into kopecks, sent with a fresh Idempotency-Key per submit (a double
 * click or a retried request tops up once), confirmed in words under the form. The shopper's wallet and
 * the admin pages all use it.
 */
export function TopUpForm({
  id,
  placeholder,
  topUp,
  onTopUp,
}: {
  id: string;
  placeholder?: string;
  topUp: (amount: number, idempotencyKey: string) => Promise<{ account: Account }>;
  onTopUp: (account: Account) => void;
}) {
  const [amount, setAmount] = useState("");
  const [error, setError] = useState<string>();
  const [done, setDone] = useState<string>();
  const mutation = useMutation({
    mutationFn: (kopecks: number) => topUp(kopecks, crypto.randomUUID()),
    onSuccess: ({ account }, kopecks) => {
      setAmount("");
      // Not the new balance: the balance beside the form follows every later change live, and a figure
      // frozen here would soon contradict it.
      setDone(`Added ${formatRoubles(kopecks)} to the account.`);
      onTopUp(account);
    },
    onError: (caught) => {
      const info = describeError(caught);
      setError(fieldMessage("Amount", info.fields.amount) ?? info.message);
    },
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const parsed = parseRoubles(amount);
    setDone(undefined);
    if (!parsed.ok) return setError(parsed.error);
    setError(undefined);
    mutation.mutate(parsed.kopecks);
  };

  return (
    <>
      <form onSubmit={submit} noValidate className="inline-form">
        <Field
          id={id}
          label="Top-up amount (₽)"
          inputMode="decimal"
          placeholder={placeholder}
          required
          value={amount}
          onChange={(e) => {
            setAmount(e.target.value);
            // What was said of the previous value no longer applies.
            setError(undefined);
            setDone(undefined);
          }}
          error={error}
        />
        <button type="submit" disabled={mutation.isPending}>
          {mutation.isPending ? "Topping up…" : "Top up"}
        </button>
      </form>
      {/* Rendered empty from the start: a live region announces what later appears in it. */}
      <p role="status" className={mutation.isPaused ? "notice" : undefined}>
        {mutation.isPaused ? offlineNotice("the top-up will be made") : done}
      </p>
    </>
  );
}
