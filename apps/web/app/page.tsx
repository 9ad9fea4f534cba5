import type { Metadata } from "next";
import { Suspense } from "react";
import { ShopPage } from "../src/client/shop/shop-page.tsx";

// The root layout's title template names only the routes below it, so this page spells its title out.
export const metadata: Metadata = { title: { absolute: "Shop · Gozon" } };

export default function Page() {
  // The shop reads the query (sent here from an admin page?), which Next asks to be under Suspense.
  return (
    <Suspense>
      <ShopPage />
    </Suspense>
  );
}
