"use client";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { useEffect, useState, type ReactNode } from "react";
import { ToastContainer } from "react-toastify";
import "react-toastify/dist/ReactToastify.css";
import { onSignedOut } from "./api.ts";
import { ConnectionWatch } from "./connection.tsx";
import { sessionKey } from "./session.ts";

export function Providers({ children }: { children: ReactNode }) {
  const [queryClient] = useState(
    () => new QueryClient({ defaultOptions: { queries: { refetchOnWindowFocus: false } } }),
  );
  // A refused refresh ends the session: protected pages then send the visitor to /login.
  useEffect(() => {
    onSignedOut(() => queryClient.setQueryData(sessionKey, null));
    return () => onSignedOut(null);
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
