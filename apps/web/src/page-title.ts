import type { Metadata } from "next";
import type { ReactNode } from "react";

/**
 * A route's title ("Orders · Gozon", by the root layout's template). The app's pages are client
 * components, which cannot export metadata, so each route folder has a layout that only names it.
 */
export const pageTitle = (title: string): Metadata => ({ title });

/** The layout of such a folder: the page as it is. */
export function TitleOnly({ children }: { children: ReactNode }) {
  return children;
}
