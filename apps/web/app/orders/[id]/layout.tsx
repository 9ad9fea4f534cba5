import type { Metadata } from "next";
import { shortId } from "../../../src/page-title.ts";

/** "Order 1a2b3c4d · Gozon", from the address alone: the order itself is read in the browser, with the user's token. */
export async function generateMetadata({ params }: { params: Promise<{ id: string }> }): Promise<Metadata> {
  return { title: `Order ${shortId((await params).id)}` };
}
export { TitleOnly as default } from "../../../src/page-title.ts";
