"use client";
import { usePathname, useSearchParams } from "next/navigation";

/** Changes to a page's address: a value sets its parameter, null removes it. */
export type ParamChanges = Record<string, string | null>;

/** The query `params` with `changes` made, every other parameter kept as it was. */
export function withParams(params: URLSearchParams, changes: ParamChanges): URLSearchParams {
  const next = new URLSearchParams(params.toString());
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) next.delete(name);
    else next.set(name, value);
  }
  return next;
}

/** `path` with the query `params`, and no lone "?" when there are none. */
export function pathWith(path: string, params: URLSearchParams): string {
  const query = params.toString();
  return query ? `${path}?${query}` : path;
}

/**
 * A page's filters kept in its address rather than in memory: Back from a page they led to, a reload or a
 * shared link shows the same list. Changes replace the history entry: each filter picked is not a step
 * of its own that Back would walk through. They go through the History API, which Next's router follows
 * (useSearchParams answers the new query at once): `router.replace` would fetch the page from the server
 * first, and a select bound to the address would snap back to its old value until the answer came.
 */
export function useUrlState() {
  const params = useSearchParams();
  const pathname = usePathname();
  const update = (changes: ParamChanges) => {
    window.history.replaceState(null, "", pathWith(pathname, withParams(params, changes)));
  };
  return { params, update };
}
