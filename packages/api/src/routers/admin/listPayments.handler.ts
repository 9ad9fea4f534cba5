import type { z } from "zod";
import { listDecisions } from "@gozon/payments/decisions";
import type { Context } from "../../context.ts";
import { emailsOf } from "../../identity/users.ts";
import { PAGE_LIMIT_DEFAULT } from "../../paging.ts";
import { paymentsCursor, type listPaymentsInputSchema } from "./listPayments.schema.ts";

type Options = { ctx: Context; input: z.output<typeof listPaymentsInputSchema> };

/** Payment decisions of every user, newest first, optionally of one user and one outcome, with emails. */
export async function listPaymentsHandler({ ctx, input }: Options) {
  const { userId, outcome, limit = PAGE_LIMIT_DEFAULT, cursor } = input ?? {};
  const { payments, hasMore } = await listDecisions(ctx.deps.paymentsDb, {
    userId,
    outcome,
    limit,
    before: cursor ? { decidedAt: cursor[0], orderId: cursor[1] } : null,
  });
  // Decisions live in the payments database and emails in identity: one lookup for the page.
  const emails = await emailsOf(
    ctx.deps.identityDb,
    payments.map((payment) => payment.userId),
  );
  const last = payments.at(-1);
  return {
    payments: payments.map((payment) => ({ ...payment, email: emails.get(payment.userId) ?? null })),
    nextCursor: hasMore && last ? paymentsCursor.encode([last.decidedAt, last.orderId]) : null,
  };
}
