"use client";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, describeError, fieldMessage } from "../../../src/client/api.ts";
import { Field } from "../../../src/client/field.tsx";
import { formatRoubles, parseRoubles } from "../../../src/client/money.ts";
import { useRequireUser } from "../../../src/client/session.ts";
import { Waiting } from "../../../src/client/waiting.tsx";

type FoundUser = { id: string; email: string; role: string; account: { balance: number } | null };

export default function AdminTopUpPage() {
  const { user, session } = useRequireUser({ admin: true });
  const [search, setSearch] = useState("");
  const [query, setQuery] = useState<string | null>(null);
  const [selected, setSelected] = useState<FoundUser | null>(null);
  const users = useQuery({
    queryKey: ["admin-users", query],
    queryFn: () => api.admin.findUsers.query({ email: query ?? "", limit: 20 }),
    enabled: !!user && query !== null,
  });

  if (!user) return <Waiting error={session.error} retry={() => void session.refetch()} />;
  const found = users.data?.users ?? [];
  return (
    <main>
      <h1>Top up an account</h1>
      <form
        className="inline-form"
        role="search"
        onSubmit={(event) => {
          event.preventDefault();
          setSelected(null);
          setQuery(search.trim());
        }}
      >
        <Field
          id="user-search"
          label="Search by email"
          type="search"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
        <button type="submit">Search</button>
      </form>
      {users.isFetching && <p>Searching…</p>}
      {users.isError && <p role="alert">{describeError(users.error).message}</p>}
      {users.isSuccess && found.length === 0 && <p>No users match</p>}
      {found.length > 0 && (
        <ul className="users" aria-label="Users">
          {found.map((u) => (
            <li key={u.id}>
              <span>{u.email}</span>
              <span>{u.account ? formatRoubles(u.account.balance) : "no account"}</span>
              <button type="button" onClick={() => setSelected(u)} aria-label={`Select ${u.email}`}>
                Select
              </button>
            </li>
          ))}
        </ul>
      )}
      {selected && <AdminTopUp key={selected.id} user={selected} onDone={() => void users.refetch()} />}
    </main>
  );
}

function AdminTopUp({ user, onDone }: { user: FoundUser; onDone: () => void }) {
  const [amount, setAmount] = useState("");
  const [error, setError] = useState<string>();
  const [balance, setBalance] = useState(user.account?.balance ?? null);
  const [done, setDone] = useState<string>();
  const topUp = useMutation({
    mutationFn: (kopecks: number) =>
      // A fresh key per submit: a double click or a retried request tops up once.
      api.admin.topUp.mutate({ userId: user.id, amount: kopecks, idempotencyKey: crypto.randomUUID() }),
    onSuccess: ({ account }, kopecks) => {
      setBalance(account.balance);
      setAmount("");
      setDone(`Added ${formatRoubles(kopecks)}; the new balance is ${formatRoubles(account.balance)}`);
      onDone();
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
    topUp.mutate(parsed.kopecks);
  };
  return (
    <section className="card" aria-labelledby="selected-title">
      <h2 id="selected-title">{user.email}</h2>
      {balance === null ? (
        <p>This user has no account yet; they must open one before it can be topped up.</p>
      ) : (
        <>
          <p className="balance">
            Balance: <strong data-testid="selected-balance">{formatRoubles(balance)}</strong>
          </p>
          <form onSubmit={submit} noValidate className="inline-form">
            <Field
              id="admin-topup-amount"
              label="Top-up amount (₽)"
              inputMode="decimal"
              value={amount}
              onChange={(e) => setAmount(e.target.value)}
              error={error}
            />
            <button type="submit" disabled={topUp.isPending}>
              {topUp.isPending ? "Topping up…" : "Top up"}
            </button>
          </form>
          <p role="status">{done}</p>
        </>
      )}
    </section>
  );
}
