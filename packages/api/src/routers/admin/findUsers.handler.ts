import type { z } from "zod";
import type { Context } from "../../context.ts";
import { searchUsers } from "../../identity/users.ts";
import { usersCursor, type findUsersInputSchema, type findUsersOutputSchema } from "./findUsers.schema.ts";

type Options = { ctx: Context; input: z.output<typeof findUsersInputSchema> };

/** Users by email fragment, a page at a time, each with their account when they have one. */
export async function findUsersHandler({
  ctx,
  input,
}: Options): Promise<z.input<typeof findUsersOutputSchema>> {
  const { users, nextCursor } = await searchUsers(ctx.deps.identityDb, {
    fragment: input?.email || undefined,
    limit: input?.limit ?? 20,
    cursor: input?.cursor,
  });
  const accounts = users.length > 0 ? await ctx.deps.accountsOf(users.map((user) => user.id)) : new Map();
  return {
    users: users.map((user) => ({
      id: user.id,
      email: user.email,
      role: user.role,
      account: accounts.get(user.id) ?? null,
    })),
    nextCursor: nextCursor === null ? null : usersCursor.encode(nextCursor),
  };
}
