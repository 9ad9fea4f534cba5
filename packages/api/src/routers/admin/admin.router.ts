import { idempotencyHeadersSchema } from "../../inputs.ts";
import { adminProcedure, router } from "../../trpc.ts";
import { createAdminHandler } from "./createAdmin.handler.ts";
import { createAdminInputSchema, createAdminOutputSchema } from "./createAdmin.schema.ts";
import { findUsersHandler } from "./findUsers.handler.ts";
import { findUsersInputSchema, findUsersOutputSchema } from "./findUsers.schema.ts";
import { feedInputSchema } from "../../live/feed.schema.ts";
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
          422: "Idempotency-Key reused with another body",
        },
      },
    })
    .input(adminTopUpInputSchema)
    .output(adminTopUpOutputSchema)
    .mutation(adminTopUpHandler),

  /** WebSocket only (no REST route): every order's events, resumable with `lastEventId`. */
  orderFeed: adminProcedure.input(feedInputSchema).subscription(orderFeedHandler),
});
