import { TRPCError } from "@trpc/server";
import type { z } from "zod";
import type { Context } from "../../context.ts";
import { verifyAgainstDummy } from "../../identity/passwords.ts";
import { findUserByEmail } from "../../identity/users.ts";
import type { loginInputSchema } from "./login.schema.ts";
import { startSession } from "./session.ts";

type Options = { ctx: Context; input: z.output<typeof loginInputSchema> };

/**
 * Checks the credentials and starts a session. The attempt is counted before the hash is checked, so
 * parallel guesses cannot outrun the limit. An unknown email costs the same hashing work as a wrong
 * password and gets the same answer.
 */
export async function loginHandler({ ctx, input }: Options) {
  const { rateLimiter, identityDb, verifyPassword } = ctx.deps;
  await rateLimiter.consumeLoginAttempt(ctx.ip, input.email);
  const user = await findUserByEmail(identityDb, input.email);
  const valid = user
    ? await verifyPassword(user.passwordHash, input.password)
    : await verifyAgainstDummy(input.password, verifyPassword);
  if (!user || !valid) {
    ctx.log.info({ knownUser: user !== null }, "sign-in refused");
    throw new TRPCError({ code: "UNAUTHORIZED", message: "Wrong email or password" });
  }
  await rateLimiter.loginSucceeded(ctx.ip, input.email);
  ctx.log.info({ userId: user.id }, "signed in");
  return startSession(ctx, user);
}
