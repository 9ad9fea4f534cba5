"use client";
import { useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useEffect, useRef, useSyncExternalStore } from "react";
import { api, isUnauthorized, noteSessionChange, resetLiveConnection } from "./api.ts";

export type SessionUser = { id: string; email: string; role: "SHOPPER" | "ADMIN" };

export const sessionKey = ["session"] as const;

/** The signed-in user, or null. A 401 is an answer ("signed out"), not an error. */
export function useSession() {
  return useQuery({
    queryKey: sessionKey,
    queryFn: async (): Promise<SessionUser | null> => {
      try {
        return (await api.auth.me.query()).user;
      } catch (error) {
        if (isUnauthorized(error)) return null;
        throw error;
      }
    },
    staleTime: 60_000,
    retry: false,
  });
}

/**
 * Set from a deliberate Log out until the sign-in page shows: the page being left then does not send
 * the user to /login itself (with "session ended"); useSignOut does.
 */
let signingOut = false;

/** Called by the sign-in page once it is shown: from now on a signed-out page redirects again. */
export function signOutArrived() {
  signingOut = false;
}

/** Set on the shop's address when a shopper was sent there from an admin page: the shop says why. */
export const ADMINS_ONLY = "admins-only";

const noChanges = () => () => {};

/** False on the server and while React hydrates what the server rendered; true from then on. */
function useHydrated() {
  return useSyncExternalStore(
    noChanges,
    () => true,
    () => false,
  );
}

/**
 * Sends signed-out visitors to /login, which brings them back here once they have signed in (`next`),
 * saying so when the session ended under an open page (`ended`); with `admin`, non-admins to the shop,
 * which tells them the page was for admins.
 *
 * While React hydrates the page it answers as the server did (nobody known yet: the page shows Waiting).
 * React hydrates a page's content after the header, which starts reading the session at once; when that
 * read came back first (a loaded machine, a slow phone), the page rendered the signed-in view over the
 * server's "Loading…" and React threw the server's HTML away (minified error #418). The session's error
 * is held back likewise: the server never has one.
 */
export function useRequireUser({ admin = false } = {}) {
  const hydrated = useHydrated();
  const session = useSession();
  const router = useRouter();
  const user = session.data;
  const hadUser = useRef(false);
  useEffect(() => {
    if (session.isPending || session.isError) return;
    if (user) hadUser.current = true;
    if (!user) {
      if (signingOut) return; // useSignOut goes to /login itself
      const params = new URLSearchParams({ next: `${location.pathname}${location.search}` });
      if (hadUser.current) params.set("ended", "1");
      router.replace(`/login?${params}`);
    } else if (admin && user.role !== "ADMIN") router.replace(`/?${ADMINS_ONLY}=1`);
  }, [session.isPending, session.isError, user, admin, router]);
  const allowed = hydrated && !!user && (!admin || user.role === "ADMIN");
  return {
    user: allowed ? user : null,
    session: { error: hydrated ? session.error : null, refetch: () => session.refetch() },
  };
}

/**
 * The page becomes `user`'s: nothing read before stays, the live feeds start again. Reset, not cleared:
 * a page that stays where it is (another tab signed in as someone else) keeps its components mounted, and
 * they would go on showing the queries a clear took out of the cache; a reset reads the shown ones again.
 * Reads still in flight are cancelled first: they were made for the user shown before (the page's first
 * `auth.me`, say, waiting out a refused refresh's grace), and one answering "signed out" after this
 * would sign the new user out again.
 */
export async function showSignedIn(queryClient: QueryClient, user: SessionUser) {
  resetLiveConnection();
  await queryClient.cancelQueries();
  queryClient.getMutationCache().clear();
  queryClient.setQueryData(sessionKey, user);
  void queryClient.resetQueries({ predicate: ({ queryKey }) => queryKey[0] !== sessionKey[0] });
}

let channel: BroadcastChannel | null | undefined;
/** How this browser's tabs tell each other of a sign-in or a sign-out: their cookies are shared. */
function sessionChannel() {
  channel ??= typeof BroadcastChannel === "undefined" ? null : new BroadcastChannel("gozon-session");
  return channel;
}

/**
 * Calls `listener` when another tab of this browser signs in or out. A message says only that: the
 * listener reads whom the cookies sign in (followSessionElsewhere), so a message says nothing it could lie
 * about. The tab that posts is not told.
 */
export function onSessionChangeElsewhere(listener: () => void) {
  const own = sessionChannel();
  if (!own) return () => {};
  own.onmessage = () => listener();
  return () => {
    own.onmessage = null;
  };
}

function announceSessionChange() {
  sessionChannel()?.postMessage("changed");
}

export function useSignedIn() {
  const queryClient = useQueryClient();
  return async (user: SessionUser) => {
    noteSessionChange();
    await showSignedIn(queryClient, user);
    announceSessionChange();
  };
}

export function useSignOut() {
  const queryClient = useQueryClient();
  const router = useRouter();
  /** Rejects, leaving the user signed in, when the server did not sign the session out. */
  return async () => {
    signingOut = true;
    try {
      await api.auth.logout.mutate();
    } catch (error) {
      // Only the server can clear the session's httpOnly cookies and revoke its refresh token: a page
      // that only forgot the user would sign them back in at the next reload (a shared computer).
      // A session already over (401) is what was asked for.
      if (!isUnauthorized(error)) {
        signingOut = false;
        throw error;
      }
    }
    noteSessionChange();
    resetLiveConnection();
    queryClient.clear();
    queryClient.setQueryData(sessionKey, null);
    announceSessionChange();
    router.replace("/login");
  };
}
