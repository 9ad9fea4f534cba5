"use client";
import Link from "next/link";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api, describeError } from "../../../src/client/api.ts";
import { Field } from "../../../src/client/field.tsx";
import { formatRoubles } from "../../../src/client/money.ts";
import { useRequireUser } from "../../../src/client/session.ts";
import { TopUpForm } from "../../../src/client/top-up-form.tsx";
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
              <span>
                <Link href={`/admin/users/${u.id}`}>{u.email}</Link>
              </span>
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
  const [balance, setBalance] = useState(user.account?.balance ?? null);
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
          <TopUpForm
            id="admin-topup-amount"
            topUp={(amount, idempotencyKey) =>
              api.admin.topUp.mutate({ userId: user.id, amount, idempotencyKey })
            }
            onTopUp={(account) => {
              setBalance(account.balance);
              onDone();
            }}
          />
        </>
      )}
    </section>
  );
}
