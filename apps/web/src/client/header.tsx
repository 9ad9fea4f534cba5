"use client";
import Link from "next/link";
import { useState } from "react";
import { describeError } from "./api.ts";
import { useSession, useSignOut } from "./session.ts";

export function Header() {
  const { data: user, isPending } = useSession();
  const signOut = useSignOut();
  const [signingOut, setSigningOut] = useState(false);
  const [signOutError, setSignOutError] = useState<string>();
  const logOut = () => {
    if (signingOut) return;
    setSigningOut(true);
    setSignOutError(undefined);
    signOut()
      .catch((error: unknown) => setSignOutError(describeError(error).message))
      .finally(() => setSigningOut(false));
  };
  return (
    <header className="header">
      <Link href="/" className="brand">
        Gozon
      </Link>
      {user ? (
        <>
          {/* Who is signed in and Log out stay on the brand's line; the links get a line of their own. */}
          <div className="session">
            <span className="who">
              {user.email} <small>({user.role === "ADMIN" ? "admin" : "shopper"})</small>
            </span>
            <button type="button" onClick={logOut} aria-disabled={signingOut || undefined}>
              Log out
            </button>
          </div>

          <nav aria-label="Main">
            <Link href="/">Shop</Link>
            <Link href="/account">Account</Link>
            {user.role === "ADMIN" && (
              <>
                <Link href="/admin/orders">Orders</Link>
                <Link href="/admin/payments">Payments</Link>
                <Link href="/admin/top-up">Top up accounts</Link>
                <Link href="/admin/feed">Live feed</Link>
                <Link href="/admin/admins">New admin</Link>
              </>
            )}
          </nav>
          {signOutError && (
            <p role="alert" className="form-error sign-out-error">
              Logging out failed, so you are still signed in. {signOutError}
            </p>
          )}
        </>
      ) : isPending ? null : (
        <nav aria-label="Main">
          <Link href="/login">Sign in</Link>
          <Link href="/register">Register</Link>
        </nav>
      )}
    </header>
  );
}
