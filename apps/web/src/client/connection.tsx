"use client";
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useSyncExternalStore } from "react";
import { reconnectLive } from "./api.ts";

const onConnectionChange = (notify: () => void) => {
  window.addEventListener("online", notify);
  window.addEventListener("offline", notify);
  return () => {
    window.removeEventListener("online", notify);
    window.removeEventListener("offline", notify);
  };
};

/**
 * The page's side of going offline and back: a line that says the browser is offline (before the shopper
 * finds out by submitting something), the live socket replaced the moment the browser is back online, and
 * a warning before leaving the page while an order or top-up is still waiting to be sent (TanStack Query
 * holds it in this page's memory only: leaving drops it).
 */
export function ConnectionWatch() {
  const queryClient = useQueryClient();
  const online = useSyncExternalStore(
    onConnectionChange,
    () => navigator.onLine,
    () => true,
  );

  useEffect(() => {
    window.addEventListener("online", reconnectLive);
    return () => window.removeEventListener("online", reconnectLive);
  }, []);

  useEffect(() => {
    const warn = (event: BeforeUnloadEvent) => {
      if (
        queryClient
          .getMutationCache()
          .getAll()
          .some((mutation) => mutation.state.isPaused)
      ) {
        event.preventDefault();
      }
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [queryClient]);

  // Rendered (empty, taking no room) from the start: a live region announces what later appears in it.
  return (
    <div aria-live="polite">
      {online ? null : (
        <p className="notice">You are offline. What you send now goes out once the connection is back.</p>
      )}
    </div>
  );
}
