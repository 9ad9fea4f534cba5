"use client";
import { AccountPanel } from "../src/client/shop/account-panel.tsx";
import { Orders } from "../src/client/shop/orders.tsx";
import { useRequireUser } from "../src/client/session.ts";
import { Waiting } from "../src/client/waiting.tsx";

export default function ShopPage() {
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
