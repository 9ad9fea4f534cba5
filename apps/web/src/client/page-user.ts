"use client";
import { useSyncExternalStore } from "react";
import { useRequireUser } from "./session.ts";

const noChanges = () => () => {};

/** False on the server and while React hydrates what the server rendered; true from then on. */
export function useHydrated() {
  return useSyncExternalStore(
    noChanges,
    () => true,
    () => false,
  );
}

/**
 * `useRequireUser` for a page's content: while React hydrates it, it answers as the server did (nobody
 * known yet: the page shows Waiting). React hydrates a page's content after the header, which starts
 * reading the session at once; when that read came back first (a loaded machine, a slow phone), the page
 * rendered the signed-in view over the server's "Loading…" and React threw the server's HTML away
 * (minified error #418). The session's error is held back likewise: the server never has one.
 */
export function usePageUser(options?: { admin?: boolean }) {
  const hydrated = useHydrated();
  const { user, session } = useRequireUser(options);
  return {
    user: hydrated ? user : null,
    session: { error: hydrated ? session.error : null, refetch: () => session.refetch() },
  };
}
