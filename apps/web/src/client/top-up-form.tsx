"use client";
import { useMutation } from "@tanstack/react-query";
import { useRef, useState, type FormEvent } from "react";
import { describeError, fieldMessage } from "./api.ts";
import { Field } from "./field.tsx";
import { useSubmitKeys } from "./idempotency-key.ts";
import { formatRoubles, parseRoubles } from "./money.ts";
import { offlineNotice } from "./offline-notice.ts";

type Account = { userId: string; balance: number };

/**
 * A roubles amount parsed exactly into kopecks, confirmed in words under the form. The Idempotency-Key
 * stays the same when the same amount is sent again after a failure (a top-up made but its answer lost
 * is not made twice), and is new after a success or for another amount. The shopper's wallet and the
 * admin pages all use it; each instance tops up one account.
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
  const keys = useSubmitKeys();
  const form = useRef<HTMLFormElement>(null);
  // The button, disabled while the top-up is sent, had dropped the focus: back to the amount, unless
  // the person went on elsewhere meanwhile.
  const refocus = () => {
    const active = document.activeElement;
    if (active && active !== document.body && !form.current?.contains(active)) return;
    form.current?.querySelector<HTMLInputElement>(`#${CSS.escape(id)}`)?.focus();
  };
  const mutation = useMutation({
    mutationFn: ({ kopecks, idempotencyKey }: { kopecks: number; idempotencyKey: string }) =>
      topUp(kopecks, idempotencyKey),
    onSuccess: ({ account }, { kopecks }) => {
      keys.succeeded();
      setAmount("");
      // Not the new balance: the balance beside the form follows every later change live, and a figure
      // frozen here would soon contradict it.
      setDone(`Added ${formatRoubles(kopecks)} to the account.`);
      onTopUp(account);
      refocus();
    },
    onError: (caught) => {
      const info = describeError(caught);
      setError(fieldMessage("Amount", info.fields.amount) ?? info.message);
      refocus();
    },
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (mutation.isPending) return;
    const parsed = parseRoubles(amount);
    setDone(undefined);
    if (!parsed.ok) return setError(parsed.error);
    setError(undefined);
    mutation.mutate({ kopecks: parsed.kopecks, idempotencyKey: keys.keyFor(parsed.kopecks) });
  };

  // While the top-up is sent (or waits for the network) the field shows what is being sent: typing then
  // would change nothing sent, and the success would blank it.
  const sending = mutation.isPending;
  return (
    <>
      <form ref={form} onSubmit={submit} noValidate className="inline-form" aria-busy={sending || undefined}>
        <Field
          id={id}
          label="Top-up amount (₽)"
          inputMode="decimal"
          placeholder={placeholder}
          required
          readOnly={sending}
          value={amount}
          onChange={(e) => {
            setAmount(e.target.value);
            // What was said of the previous value no longer applies.
            setError(undefined);
            setDone(undefined);
          }}
          error={error}
        />
        <button type="submit" disabled={sending}>
          {sending ? "Topping up…" : "Top up"}
        </button>
      </form>
      {/* Rendered empty from the start: a live region announces what later appears in it. */}
      <p role="status" className={mutation.isPaused ? "notice" : undefined}>
        {mutation.isPaused ? offlineNotice("the top-up will be made") : done}
      </p>
    </>
  );
}
