import type { Metadata } from "next";
import { ShopPage } from "../src/client/shop/shop-page.tsx";

// The root layout's title template names only the routes below it, so this page spells its title out.
export const metadata: Metadata = { title: { absolute: "Shop · Gozon" } };

export default function Page() {
  return <ShopPage />;
}
