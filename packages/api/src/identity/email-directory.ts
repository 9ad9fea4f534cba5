import type { IdentityClient } from "@gozon/db/clients";
import { emailsOf } from "./users.ts";

/** Emails kept per process: every shopper of a busy shop, a few hundred kilobytes. */
const MAX_ENTRIES = 10_000;

/**
 * The emails of users by id, for admin views of orders (whose rows carry only a user id: emails live in
 * identity). A user's email never changes once registered, so what is read once is kept; `load` reads
 * only the ids it does not know, in one query, and a feed that names the users of a batch of events
 * costs nothing once it has seen them.
 */
export type EmailDirectory = {
  /** The emails of these users, reading the unknown ones in one query; an unknown user is absent. */
  load(userIds: readonly string[]): Promise<ReadonlyMap<string, string>>;
};

export function createEmailDirectory(db: IdentityClient, maxEntries = MAX_ENTRIES): EmailDirectory {
  const known = new Map<string, string>();
  return {
    async load(userIds) {
      const found = new Map<string, string>();
      const missing: string[] = [];
      for (const id of userIds) {
        const email = known.get(id);
        if (email === undefined) missing.push(id);
        else found.set(id, email);
      }
      if (missing.length === 0) return found;
      for (const [id, email] of await emailsOf(db, missing)) {
        found.set(id, email);
        known.set(id, email);
      }
      // Oldest first out (insertion order): a bound on memory, not a cache policy anyone relies on.
      for (const id of known.keys()) {
        if (known.size <= maxEntries) break;
        known.delete(id);
      }
      return found;
    },
  };
}
