import Link from "next/link";
import { pageTitle } from "../src/page-title.ts";

export const metadata = pageTitle("Page not found");

/** Any address the app does not have (Next answers it with a 404 status). */
export default function NotFound() {
  return (
    <main>
      <h1>Page not found</h1>
      <p>
        There is nothing at this address. <Link href="/">Back to the shop</Link>
      </p>
    </main>
  );
}
