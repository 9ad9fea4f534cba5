import { idempotencyHeadersSchema } from "../../inputs.ts";
import { protectedProcedure, router } from "../../trpc.ts";
import { byIdHandler } from "./byId.handler.ts";
import { byIdInputSchema, byIdOutputSchema } from "./byId.schema.ts";
import { createHandler } from "./create.handler.ts";
import { createInputSchema, createOutputSchema } from "./create.schema.ts";
import { feedInputSchema } from "../../live/feed.schema.ts";
import { listHandler } from "./list.handler.ts";
import { listInputSchema, listOutputSchema } from "./list.schema.ts";
import { onStatusChangeHandler } from "./onStatusChange.handler.ts";

const tags = ["orders"];
const signedIn = { 401: "Not signed in" };

export const ordersRouter = router({
  create: protectedProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/orders",
        tags,
        summary: "Place an order; it is paid from your account asynchronously",
        description:
          "The order starts as NEW and becomes FINISHED or CANCELLED once payment is decided. " +
          "Honours `Idempotency-Key`: a retry with the same key and body returns the same order.",
        requestHeaders: idempotencyHeadersSchema,
        successDescription: "Created",
        errorResponses: {
          400: "Invalid input",
          ...signedIn,
          422: "Idempotency-Key reused with another body",
        },
      },
      successStatus: 201,
    })
    .input(createInputSchema)
    .output(createOutputSchema)
    .mutation(createHandler),

  list: protectedProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/orders",
        tags,
        summary: "Your orders, newest first (paged)",
        errorResponses: { 400: "Invalid input", ...signedIn },
      },
    })
    .input(listInputSchema)
    .output(listOutputSchema)
    .query(listHandler),

  byId: protectedProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/orders/{id}",
        tags,
        summary: "One of your orders, with its status history (oldest first)",
        errorResponses: { 400: "Invalid input", ...signedIn, 404: "No such order of yours" },
      },
    })
    .input(byIdInputSchema)
    .output(byIdOutputSchema)
    .query(byIdHandler),

  /** WebSocket only (no REST route): the caller's order events, resumable with `lastEventId`. */
  onStatusChange: protectedProcedure.input(feedInputSchema).subscription(onStatusChangeHandler),
});
