import type { z } from "zod";
import type { Context, Caller } from "../../context.ts";
import { createUser, toPublicUser } from "../../identity/users.ts";
import type { createAdminInputSchema } from "./createAdmin.schema.ts";

type Options = { ctx: Context & { user: Caller }; input: z.output<typeof createAdminInputSchema> };

/** An admin creates another admin; a taken email is a CONFLICT (no silent promotion of a shopper). */
export async function createAdminHandler({ ctx, input }: Options) {
  const user = await createUser(ctx.deps.identityDb, { ...input, role: "ADMIN" });
  ctx.log.info({ userId: user.id, createdBy: ctx.user.id }, "admin created");
  return { user: toPublicUser(user) };
}
