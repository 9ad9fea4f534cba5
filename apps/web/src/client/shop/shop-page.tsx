"use client";
import { useRequireUser } from "../session.ts";
import { Waiting } from "../waiting.tsx";
import { AccountPanel } from "./account-panel.tsx";
import { Orders } from "./orders.tsx";

export function ShopPage() {
  const { user, session } = useRequireUser();
  if (!user) return <Waiting error={session.error} retry={() => void session.refetch()} />;
  return (
    <main>
      <h1>Shop</h1>
      <AccountPanel />
      <Orders />
    </main>
  );
}
