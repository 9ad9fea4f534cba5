"use client";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { useEffect, useState, type ReactNode } from "react";
import { ToastContainer } from "react-toastify";
import "react-toastify/dist/ReactToastify.css";
import { followSessionElsewhere, watchSession } from "./api.ts";
import { ConnectionWatch } from "./connection.tsx";
import { onSessionChangeElsewhere, sessionKey, showSignedIn, type SessionUser } from "./session.ts";

export function Providers({ children }: { children: ReactNode }) {
  const [queryClient] = useState(
    () => new QueryClient({ defaultOptions: { queries: { refetchOnWindowFocus: false } } }),
  );
  // A refused refresh ends the session: protected pages then send the visitor to /login. One that finds
  // another user signed in (from another tab) makes the page theirs: it must not show one user's data
  // while it reads the other's. Another tab's sign-in or sign-out, which it tells this one, is followed
  // the same way.
  useEffect(() => {
    watchSession({
      userId: () => queryClient.getQueryData<SessionUser | null>(sessionKey)?.id,
      ended: () => queryClient.setQueryData(sessionKey, null),
      switched: (user) => void showSignedIn(queryClient, user),
    });
    const stopFollowing = onSessionChangeElsewhere(() => void followSessionElsewhere());
    return () => {
      watchSession(null);
      stopFollowing();
    };
  }, [queryClient]);
  return (
    <QueryClientProvider client={queryClient}>
      <ConnectionWatch />
      {children}
      {/* Bottom right: at the top the toasts covered the header's buttons (Log out). */}
      <ToastContainer position="bottom-right" autoClose={6000} newestOnTop />
    </QueryClientProvider>
  );
}
