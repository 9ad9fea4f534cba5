import { TRPCError } from "@trpc/server";
import type { z } from "zod";
import type { Context } from "../../context.ts";
import { verifyAgainstDummy, verifyPassword } from "../../identity/passwords.ts";
import { findUserByEmail } from "../../identity/users.ts";
import type { loginInputSchema } from "./login.schema.ts";
import { startSession } from "./session.ts";

type Options = { ctx: Context; input: z.output<typeof loginInputSchema> };

/**
 * Checks the credentials and starts a session. An unknown email costs the same hashing work as a
 * wrong password and gets the same answer; repeated failures per IP and per email are refused (429).
 */
export async function loginHandler({ ctx, input }: Options) {
  const { rateLimiter, identityDb } = ctx.deps;
  await rateLimiter.assertLoginAllowed(ctx.ip, input.email);
  const user = await findUserByEmail(identityDb, input.email);
  const valid = user
    ? await verifyPassword(user.passwordHash, input.password)
    : await verifyAgainstDummy(input.password);
  if (!user || !valid) {
    await rateLimiter.loginFailed(ctx.ip, input.email);
    ctx.log.info({ knownUser: user !== null }, "sign-in refused");
    throw new TRPCError({ code: "UNAUTHORIZED", message: "Wrong email or password" });
  }
  await rateLimiter.loginSucceeded(input.email);
  ctx.log.info({ userId: user.id }, "signed in");
  return startSession(ctx, user);
}
