import { z } from "zod";
import { moneySchema } from "../../inputs.ts";

/** A user's account (wallet). */
export const accountSchema = z
  .object({
    userId: z.uuid(),
    balance: moneySchema.min(0).meta({ description: "Minor units (kopecks), an integer, never negative" }),
  })
  .meta({ id: "Account" });

/** What the account procedures return. */
export const accountOutputSchema = z.object({ account: accountSchema });
