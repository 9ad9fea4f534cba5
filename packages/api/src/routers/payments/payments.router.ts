import { idempotencyHeadersSchema, noInputSchema } from "../../inputs.ts";
import { protectedProcedure, router } from "../../trpc.ts";
import { createAccountHandler } from "./createAccount.handler.ts";
import { createAccountOutputSchema } from "./createAccount.schema.ts";
import { getAccountHandler } from "./getAccount.handler.ts";
import { getAccountOutputSchema } from "./getAccount.schema.ts";
import { ledgerHandler } from "./ledger.handler.ts";
import { ledgerInputSchema, ledgerOutputSchema } from "./ledger.schema.ts";
import { onBalanceChangeHandler } from "./onBalanceChange.handler.ts";
import { topUpHandler } from "./topUp.handler.ts";
import { topUpInputSchema, topUpOutputSchema } from "./topUp.schema.ts";

const tags = ["payments"];
const signedIn = { 401: "Not signed in" };

export const paymentsRouter = router({
  createAccount: protectedProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/accounts",
        tags,
        summary: "Open your account (wallet) with balance 0",
        successDescription: "Created",
        errorResponses: { 400: "Invalid input", ...signedIn, 409: "You already have an account" },
      },
      successStatus: 201,
    })
    .input(noInputSchema)
    .output(createAccountOutputSchema)
    .mutation(createAccountHandler),

  getAccount: protectedProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/accounts/me",
        tags,
        summary: "Your account and its balance",
        errorResponses: { 400: "Invalid input", ...signedIn, 404: "No account yet" },
      },
    })
    .input(noInputSchema)
    .output(getAccountOutputSchema)
    .query(getAccountHandler),

  ledger: protectedProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/accounts/me/ledger",
        tags,
        summary: "Your statement: every change of your balance, newest first (paged)",
        description:
          "`amount` is signed (an order debit is negative); `balanceAfter` is the balance right after " +
          "the entry. Empty when you have no account.",
        errorResponses: { 400: "Invalid input", ...signedIn },
      },
    })
    .input(ledgerInputSchema)
    .output(ledgerOutputSchema)
    .query(ledgerHandler),

  topUp: protectedProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/accounts/me/top-up",
        tags,
        summary: "Add money to your account",
        description: "Honours `Idempotency-Key`: a retry with the same key and body has no second effect.",
        requestHeaders: idempotencyHeadersSchema,
        errorResponses: {
          400: "Invalid input",
          ...signedIn,
          404: "No account yet",
          422: "Idempotency-Key reused with another body, or the balance would pass 2^53 - 1",
        },
      },
    })
    .input(topUpInputSchema)
    .output(topUpOutputSchema)
    .mutation(topUpHandler),

  /** WebSocket only (no REST route): top-ups and the opening of the caller's account, as hints to read it again. */
  onBalanceChange: protectedProcedure.input(noInputSchema).subscription(onBalanceChangeHandler),
});
