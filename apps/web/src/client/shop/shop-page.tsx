"use client";
import { useSearchParams } from "next/navigation";
import { ADMINS_ONLY, useRequireUser } from "../session.ts";
import { Waiting } from "../waiting.tsx";
import { AccountPanel } from "./account-panel.tsx";
import { Orders } from "./orders.tsx";

export function ShopPage() {
  const { user, session } = useRequireUser();
  const adminsOnly = useSearchParams().get(ADMINS_ONLY) === "1";
  if (!user) return <Waiting error={session.error} retry={() => void session.refetch()} />;
  return (
    <main>
      <h1>Shop</h1>
      {adminsOnly && (
        <p role="status" className="notice">
          The page you opened is for admins, so here is your shop instead.
        </p>
      )}
      <AccountPanel />
      <Orders />
    </main>
  );
}
