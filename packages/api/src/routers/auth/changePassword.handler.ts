import { TRPCError } from "@trpc/server";
import type { z } from "zod";
import type { Context } from "../../context.ts";
import { invalidInput } from "../../errors.ts";
import { hashPassword } from "../../identity/passwords.ts";
import { findUserById } from "../../identity/users.ts";
import type { changePasswordInputSchema } from "./changePassword.schema.ts";
import { startSession } from "./session.ts";

type Options = { ctx: Context & { user: { id: string } }; input: z.output<typeof changePasswordInputSchema> };

/**
 * Sets a new password and ends every session of the user, this one too, then starts a new one here: a
 * password changed because it leaked must also shut out whoever signed in with it. The current password
 * is checked like a sign-in, counted against the same limits first, so a stolen access token is no way to
 * guess it.
 */
export async function changePasswordHandler({ ctx, input }: Options) {
  const { rateLimiter, identityDb, verifyPassword, refreshTokens } = ctx.deps;
  const user = await findUserById(identityDb, ctx.user.id);
  if (!user) throw new TRPCError({ code: "UNAUTHORIZED", message: "This account no longer exists" });
  const attempt = await rateLimiter.consumeLoginAttempt(ctx.ip, user.email, null);
  if (!(await verifyPassword(user.passwordHash, input.currentPassword))) {
    ctx.log.info({ userId: user.id }, "password change refused: wrong current password");
    throw invalidInput({ currentPassword: "is not this account's password" });
  }
  await rateLimiter.loginSucceeded(ctx.ip, user.email, attempt);
  const passwordHash = await hashPassword(input.newPassword);
  await identityDb.user.update({ where: { id: user.id }, data: { passwordHash } });
  await refreshTokens.revokeAllOf(user.id);
  ctx.log.info({ userId: user.id }, "password changed; every session ended");
  return startSession(ctx, user);
}
