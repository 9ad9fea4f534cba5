import { TRPCError } from "@trpc/server";
import type { z } from "zod";
import type { Context } from "../../context.ts";
import { DEVICE_COOKIE } from "../../cookies.ts";
import { verifyAgainstDummy } from "../../identity/passwords.ts";
import { findUserByEmail } from "../../identity/users.ts";
import type { loginInputSchema } from "./login.schema.ts";
import { startSession } from "./session.ts";

type Options = { ctx: Context; input: z.output<typeof loginInputSchema> };

/**
 * Checks the credentials and starts a session. The attempt is counted before the hash is checked, so
 * parallel guesses cannot outrun the limit. An unknown email costs the same hashing work as a wrong
 * password and gets the same answer. A device cookie for this email (the browser signed in as it
 * before) is counted on its own instead of against the email's backstop; any other is ignored.
 */
export async function loginHandler({ ctx, input }: Options) {
  const { rateLimiter, identityDb, verifyPassword, deviceTokens } = ctx.deps;
  const device = await deviceTokens.verify(ctx.cookies[DEVICE_COOKIE], input.email);
  const attempt = await rateLimiter.consumeLoginAttempt(ctx.ip, input.email, device);
  const user = await findUserByEmail(identityDb, input.email);
  const valid = user
    ? await verifyPassword(user.passwordHash, input.password)
    : await verifyAgainstDummy(input.password, verifyPassword);
  if (!user || !valid) {
    ctx.log.info({ knownUser: user !== null }, "sign-in refused");
    throw new TRPCError({ code: "UNAUTHORIZED", message: "Wrong email or password" });
  }
  await rateLimiter.loginSucceeded(ctx.ip, input.email, attempt);
  ctx.log.info({ userId: user.id }, "signed in");
  return startSession(ctx, user);
}
