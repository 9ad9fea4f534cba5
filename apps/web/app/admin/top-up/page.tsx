"use client";
import Link from "next/link";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, describeError } from "../../../src/client/api.ts";
import { Field } from "../../../src/client/field.tsx";
import { formatRoubles } from "../../../src/client/money.ts";
import { useRequireUser } from "../../../src/client/session.ts";
import { TopUpForm } from "../../../src/client/top-up-form.tsx";
import { Waiting } from "../../../src/client/waiting.tsx";

type Found = Awaited<ReturnType<typeof api.admin.findUsers.query>>;
type FoundUser = Found["users"][number];

export default function AdminTopUpPage() {
  const { user, session } = useRequireUser({ admin: true });
  const queryClient = useQueryClient();
  const [search, setSearch] = useState("");
  const [query, setQuery] = useState<string | null>(null);
  // The selected user's id only: what is shown of them (account, balance) is always the latest read.
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const key = ["admin-users", query] as const;
  const users = useQuery({
    queryKey: key,
    queryFn: () => api.admin.findUsers.query({ email: query ?? "", limit: 20 }),
    enabled: !!user && query !== null,
  });

  if (!user) return <Waiting error={session.error} retry={() => void session.refetch()} />;
  const found = users.data?.users ?? [];
  const selected = found.find((u) => u.id === selectedId);
  return (
    <main>
      <h1>Top up an account</h1>
      <form
        className="inline-form"
        role="search"
        onSubmit={(event) => {
          event.preventDefault();
          const next = search.trim();
          // The same search again keeps the selection and reads again: a shopper may have opened their
          // account, or their balance moved, since the last read.
          if (next !== query) setSelectedId(null);
          setQuery(next);
          void queryClient.invalidateQueries({ queryKey: ["admin-users", next], exact: true });
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
              <button type="button" onClick={() => setSelectedId(u.id)} aria-label={`Select ${u.email}`}>
                Select
              </button>
            </li>
          ))}
        </ul>
      )}
      {selected && (
        <AdminTopUp
          key={selected.id}
          user={selected}
          onTopUp={(account) => {
            // The balance the top-up left at once, then the list read again (other changes meanwhile).
            queryClient.setQueryData<Found>(key, (old) =>
              old
                ? {
                    ...old,
                    users: old.users.map((u) => (u.id === account.userId ? { ...u, account } : u)),
                  }
                : old,
            );
            void users.refetch();
          }}
        />
      )}
    </main>
  );
}

function AdminTopUp({
  user,
  onTopUp,
}: {
  user: FoundUser;
  onTopUp: (account: { userId: string; balance: number }) => void;
}) {
  return (
    <section className="card" aria-labelledby="selected-title">
      <h2 id="selected-title">{user.email}</h2>
      {user.account === null ? (
        <p>This user has no account yet; they must open one before it can be topped up.</p>
      ) : (
        <>
          <p className="balance">
            Balance: <strong data-testid="selected-balance">{formatRoubles(user.account.balance)}</strong>
          </p>
          <TopUpForm
            id="admin-topup-amount"
            topUp={(amount, idempotencyKey) =>
              api.admin.topUp.mutate({ userId: user.id, amount, idempotencyKey })
            }
            onTopUp={onTopUp}
          />
        </>
      )}
    </section>
  );
}
