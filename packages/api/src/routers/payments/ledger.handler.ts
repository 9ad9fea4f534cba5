import type { z } from "zod";
import { ledgerPage } from "@gozon/payments/ledger";
import type { Caller, Context } from "../../context.ts";
import { invalidInput } from "../../errors.ts";
import { BAD_CURSOR, PAGE_LIMIT_DEFAULT } from "../../paging.ts";
import { ledgerCursor, type ledgerInputSchema } from "./ledger.schema.ts";

type Options = { ctx: Context & { user: Caller }; input: z.output<typeof ledgerInputSchema> };

/** The caller's statement, newest first, a page at a time (empty without an account). */
export async function ledgerHandler({ ctx, input }: Options) {
  const { entries, hasMore, unknownCursor } = await ledgerPage(ctx.deps.paymentsDb, ctx.user.id, {
    limit: input?.limit ?? PAGE_LIMIT_DEFAULT,
    beforeId: input?.cursor ?? null,
  });
  // Another user's cursor, or an edited one, would read as the end of the statement.
  if (unknownCursor) throw invalidInput({ cursor: BAD_CURSOR });
  const last = entries.at(-1);
  return { entries, nextCursor: hasMore && last ? ledgerCursor.encode(last.id) : null };
}
