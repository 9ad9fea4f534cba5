import { TRPCError } from "@trpc/server";
import type { Context, Caller } from "../../context.ts";
import { findUserById, toPublicUser } from "../../identity/users.ts";

type Options = { ctx: Context & { user: Caller } };

/** The signed-in user as stored now. */
export async function meHandler({ ctx }: Options) {
  const user = await findUserById(ctx.deps.identityDb, ctx.user.id);
  if (!user) throw new TRPCError({ code: "UNAUTHORIZED", message: "This account no longer exists" });
  return { user: toPublicUser(user) };
}
