import { TRPCError } from "@trpc/server";
import type { z } from "zod";
import { listOrders } from "@gozon/orders/read-orders";
import { getAccount } from "@gozon/payments/accounts";
import { ledgerPage } from "@gozon/payments/ledger";
import type { Context } from "../../context.ts";
import { findUserById } from "../../identity/users.ts";
import { USER_PAGE_LATEST, type getUserInputSchema, type getUserOutputSchema } from "./getUser.schema.ts";

type Options = { ctx: Context; input: z.output<typeof getUserInputSchema> };

/**
 * One user as an admin sees them: identity, account, latest orders and ledger entries, read from the
 * three services at once. An unknown user is a 404.
 */
export async function getUserHandler({ ctx, input }: Options): Promise<z.input<typeof getUserOutputSchema>> {
  const { identityDb, ordersDb, paymentsDb } = ctx.deps;
  const [user, account, orders, ledger] = await Promise.all([
    findUserById(identityDb, input.userId),
    getAccount(paymentsDb, input.userId),
    listOrders(ordersDb, input.userId, { limit: USER_PAGE_LATEST }),
    ledgerPage(paymentsDb, input.userId, { limit: USER_PAGE_LATEST }),
  ]);
  if (!user) throw new TRPCError({ code: "NOT_FOUND", message: "No such user" });
  return {
    user: { id: user.id, email: user.email, role: user.role, createdAt: user.createdAt.toISOString() },
    account,
    orders: orders.orders,
    ledger: ledger.entries,
  };
}
