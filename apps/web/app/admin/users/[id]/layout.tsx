import type { Metadata } from "next";
import { shortId } from "../../../../src/page-title.ts";

/** "User 1a2b3c4d · Gozon", from the address alone (the user is read in the browser, with the admin's token). */
export async function generateMetadata({ params }: { params: Promise<{ id: string }> }): Promise<Metadata> {
  return { title: `User ${shortId((await params).id)}` };
}
export { TitleOnly as default } from "../../../../src/page-title.ts";
