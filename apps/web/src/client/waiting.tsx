"use client";
import { describeError } from "./api.ts";

/** What a protected page shows until it knows who is signed in: loading, or why it could not tell. */
export function Waiting({ error, retry }: { error: unknown; retry: () => void }) {
  if (!error) {
    return (
      <main aria-busy="true">
        <p role="status">Loading…</p>
      </main>
    );
  }
  return (
    <main>
      <p role="alert">{describeError(error).message}</p>
      <button type="button" onClick={retry}>
        Try again
      </button>
    </main>
  );
}
