import type { z } from "zod";
import type { Context } from "../../context.ts";
import { createUser } from "../../identity/users.ts";
import type { registerInputSchema } from "./register.schema.ts";
import { startSession } from "./session.ts";

type Options = { ctx: Context; input: z.output<typeof registerInputSchema> };

/** Public registration: always a shopper. A taken email (any letter case) is a CONFLICT. */
export async function registerHandler({ ctx, input }: Options) {
  await ctx.deps.rateLimiter.consumeRegister(ctx.ip, input.email);
  const user = await createUser(ctx.deps.identityDb, { ...input, role: "SHOPPER" });
  ctx.log.info({ userId: user.id }, "shopper registered");
  return startSession(ctx, user);
}
