"use client";
import Link from "next/link";
import { useSession, useSignOut } from "./session.ts";

export function Header() {
  const { data: user, isPending } = useSession();
  const signOut = useSignOut();
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
            <button type="button" onClick={() => void signOut()}>
              Log out
            </button>
          </div>
          <nav aria-label="Main">
            <Link href="/">Shop</Link>
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
