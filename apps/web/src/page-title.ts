import type { Metadata } from "next";
import type { ReactNode } from "react";

/**
 * A route's title ("Orders · Gozon", by the root layout's template). The app's pages are client
 * components, which cannot export metadata, so each route folder has a layout that only names it.
 */
export const pageTitle = (title: string): Metadata => ({ title });

/** An id as the pages show it elsewhere ("order 1a2b3c4d"): its first eight characters. */
export const shortId = (id: string) => id.slice(0, 8);

/** The layout of such a folder: the page as it is. */
export function TitleOnly({ children }: { children: ReactNode }) {
  return children;
}
