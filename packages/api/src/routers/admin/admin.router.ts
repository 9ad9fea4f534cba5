import { idempotencyHeadersSchema, noInputSchema } from "../../inputs.ts";
import { adminProcedure, router } from "../../trpc.ts";
import { createAdminHandler } from "./createAdmin.handler.ts";
import { createAdminInputSchema, createAdminOutputSchema } from "./createAdmin.schema.ts";
import { findUsersHandler } from "./findUsers.handler.ts";
import { findUsersInputSchema, findUsersOutputSchema } from "./findUsers.schema.ts";
import { getUserHandler } from "./getUser.handler.ts";
import { getUserInputSchema, getUserOutputSchema } from "./getUser.schema.ts";
import { listOrdersHandler } from "./listOrders.handler.ts";
import { listOrdersInputSchema, listOrdersOutputSchema } from "./listOrders.schema.ts";
import { listPaymentsHandler } from "./listPayments.handler.ts";
import { listPaymentsInputSchema, listPaymentsOutputSchema } from "./listPayments.schema.ts";
import { feedInputSchema } from "../../live/feed.schema.ts";
import { outboxParkedHandler } from "./outboxParked.handler.ts";
import { outboxParkedOutputSchema } from "./outboxParked.schema.ts";
import { onBalanceChangeHandler } from "./onBalanceChange.handler.ts";
import { orderFeedHandler } from "./orderFeed.handler.ts";
import { adminTopUpHandler } from "./topUp.handler.ts";
import { adminTopUpInputSchema, adminTopUpOutputSchema } from "./topUp.schema.ts";

const tags = ["admin"];
const adminErrors = { 401: "Not signed in", 403: "Not an admin" };

export const adminRouter = router({
  findUsers: adminProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/admin/users",
        tags,
        summary: "Find users by email fragment (paged)",
        errorResponses: { 400: "Invalid input", ...adminErrors },
      },
    })
    .input(findUsersInputSchema)
    .output(findUsersOutputSchema)
    .query(findUsersHandler),

  getUser: adminProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/admin/users/{userId}",
        tags,
        summary: "One user: account, latest orders and latest ledger entries",
        errorResponses: { 400: "Invalid input", ...adminErrors, 404: "No such user" },
      },
    })
    .input(getUserInputSchema)
    .output(getUserOutputSchema)
    .query(getUserHandler),

  listOrders: adminProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/admin/orders",
        tags,
        summary: "Every user's orders, newest first, filtered (paged)",
        description:
          "Filters combine: `status`, the user (`userId` or exact `email`), and the creation time " +
          "(`from` inclusive, `to` exclusive). Each order carries its user's email.",
        errorResponses: { 400: "Invalid input", ...adminErrors },
      },
    })
    .input(listOrdersInputSchema)
    .output(listOrdersOutputSchema)
    .query(listOrdersHandler),

  listPayments: adminProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/admin/payments",
        tags,
        summary: "Payment decisions, newest first, by user and outcome (paged)",
        errorResponses: { 400: "Invalid input", ...adminErrors },
      },
    })
    .input(listPaymentsInputSchema)
    .output(listPaymentsOutputSchema)
    .query(listPaymentsHandler),

  outboxParked: adminProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/admin/outbox/parked",
        tags,
        summary: "Outbox rows the relays parked, per service",
        description:
          "A row is parked when it failed to publish too many times while Redis answered; the relay " +
          "gives it another try after a cool-down. Counts per service and the latest parked rows.",
        errorResponses: { 400: "Invalid input", ...adminErrors },
      },
    })
    .input(noInputSchema)
    .output(outboxParkedOutputSchema)
    .query(outboxParkedHandler),

  createAdmin: adminProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/admin/admins",
        tags,
        summary: "Create another admin",
        successDescription: "Created",
        errorResponses: { 400: "Invalid input", ...adminErrors, 409: "Email taken" },
      },
      successStatus: 201,
    })
    .input(createAdminInputSchema)
    .output(createAdminOutputSchema)
    .mutation(createAdminHandler),

  topUp: adminProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/admin/users/{userId}/top-up",
        tags,
        summary: "Add money to a user's account",
        description: "Honours `Idempotency-Key`: a retry with the same key and body has no second effect.",
        requestHeaders: idempotencyHeadersSchema,
        errorResponses: {
          400: "Invalid input",
          ...adminErrors,
          404: "That user has no account",
          422: "Idempotency-Key reused with another body, or the balance would pass 2^53 - 1",
        },
      },
    })
    .input(adminTopUpInputSchema)
    .output(adminTopUpOutputSchema)
    .mutation(adminTopUpHandler),

  /** WebSocket only (no REST route): every order's events, resumable with `lastEventId`. */
  orderFeed: adminProcedure.input(feedInputSchema).subscription(orderFeedHandler),

  /** WebSocket only (no REST route): top-ups of one user's account, as hints to read it again. */
  onBalanceChange: adminProcedure.input(getUserInputSchema).subscription(onBalanceChangeHandler),
});
