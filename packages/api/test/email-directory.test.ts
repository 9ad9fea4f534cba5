// The admin feed's emails: each user is read once per process, a run of events costs at most one query,
// and the directory stays bounded.
import { describe, expect, it } from "vitest";
import type { IdentityClient } from "@gozon/db/clients";
import { createEmailDirectory } from "../src/identity/email-directory.ts";

/** Identity's users table as `emailsOf` queries it, recording the ids of each query. */
function identityWith(users: Record<string, string>) {
  const queries: string[][] = [];
  const db = {
    user: {
      findMany: async ({ where }: { where: { id: { in: string[] } } }) => {
        queries.push([...where.id.in]);
        return where.id.in.filter((id) => id in users).map((id) => ({ id, email: users[id]! }));
      },
    },
  } as unknown as IdentityClient;
  return { db, queries };
}

describe("email directory", () => {
  it("reads only the ids it does not know, once for a whole run", async () => {
    const { db, queries } = identityWith({ a: "a@shop.test", b: "b@shop.test", c: "c@shop.test" });
    const emails = createEmailDirectory(db);

    const first = await emails.load(["a", "b", "a"]);
    expect(Object.fromEntries(first)).toEqual({ a: "a@shop.test", b: "b@shop.test" });
    expect(queries).toEqual([["a", "b"]]);

    const second = await emails.load(["b", "c", "a"]);
    expect(Object.fromEntries(second)).toEqual({ a: "a@shop.test", b: "b@shop.test", c: "c@shop.test" });
    expect(queries).toEqual([["a", "b"], ["c"]]);

    await emails.load(["c", "a"]);
    await emails.load([]);
    expect(queries).toHaveLength(2);
  });

  it("leaves out a user identity does not know, and asks again next time", async () => {
    const { db, queries } = identityWith({ a: "a@shop.test" });
    const emails = createEmailDirectory(db);
    expect(Object.fromEntries(await emails.load(["a", "ghost"]))).toEqual({ a: "a@shop.test" });
    expect((await emails.load(["ghost"])).has("ghost")).toBe(false);
    expect(queries).toEqual([["a", "ghost"], ["ghost"]]);
  });

  it("keeps at most its bound, forgetting the oldest first", async () => {
    const { db, queries } = identityWith({ a: "a@x", b: "b@x", c: "c@x" });
    const emails = createEmailDirectory(db, 2);
    await emails.load(["a"]);
    await emails.load(["b"]);
    await emails.load(["c"]); // a is forgotten
    await emails.load(["b", "c"]);
    expect(queries).toEqual([["a"], ["b"], ["c"]]);
    await emails.load(["a"]);
    expect(queries.at(-1)).toEqual(["a"]);
  });
});
