"use client";
import { AccountPanel } from "../src/client/shop/account-panel.tsx";
import { Orders } from "../src/client/shop/orders.tsx";
import { useRequireUser } from "../src/client/session.ts";

export default function ShopPage() {
  const { user } = useRequireUser();
  if (!user) return <main aria-busy="true">Loading…</main>;
  return (
    <main>
      <h1>Shop</h1>
      <AccountPanel />
      <Orders />
    </main>
  );
}
