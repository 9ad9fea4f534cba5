import { z } from "zod";

/** How many of each service's most recently parked rows the answer lists. */
export const PARKED_LATEST = 20;

const parkedRowSchema = z
  .object({
    id: z.uuid().meta({ description: "The message id (its BullMQ job id)" }),
    queue: z.string(),
    type: z.string().meta({ description: "The message type, e.g. PaymentRequested" }),
    attempts: z.number().int().meta({ description: "Times a relay claimed it, Redis outages included" }),
    failures: z.number().int().meta({ description: "Times it failed to publish while Redis answered" }),
    lastError: z.string().nullable(),
    createdAt: z.iso.datetime({ offset: true }),
    parkedAt: z.iso.datetime({ offset: true }),
  })
  .meta({ id: "ParkedOutboxRow" });

const serviceOutboxSchema = z.object({
  parked: z.number().int().meta({ description: "Rows parked in this service's outbox" }),
  latest: z.array(parkedRowSchema).meta({ description: `The ${PARKED_LATEST} parked last, latest first` }),
});

export const outboxParkedOutputSchema = z.object({
  orders: serviceOutboxSchema,
  payments: serviceOutboxSchema,
});
