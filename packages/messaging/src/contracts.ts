// The message contracts between the services: the only place a payload is defined.
//
// Every message travels in the same envelope: `{ messageId, type, version, occurredAt, payload }`.
// `messageId` is the idempotency key of a delivery (BullMQ job id, inbox key); `type` + `version` select
// the payload schema, so a payload can change shape later by adding a version beside the old one.
// Payloads are parsed as tolerant readers (unknown fields are dropped, not rejected), so a producer may
// add a field without breaking older consumers; removing or changing a field needs a new version.
// Money is an integer number of minor units (kopecks) everywhere; a float or a numeric string is rejected.
// On the wire (queues, pub/sub) the envelope also carries `sig`, its HMAC under the services' key: a
// field beside the others, added by the publishers and checked first by every receiver (signing.ts).
import { randomUUID } from "node:crypto";
import { z } from "zod";

import { MAX_AMOUNT } from "./limits.ts";
import { verifyMessage, type MessageKey } from "./signing.ts";

export { MAX_AMOUNT };
export const amountSchema = z.number().int().positive().max(MAX_AMOUNT);

export const failureReasonSchema = z.enum(["NO_ACCOUNT", "INSUFFICIENT_FUNDS"]);
export type FailureReason = z.infer<typeof failureReasonSchema>;

export const orderStatusSchema = z.enum(["NEW", "FINISHED", "CANCELLED"]);
export type OrderStatus = z.infer<typeof orderStatusSchema>;

/** Orders → payments: charge `amount` to the user's account for this order (at most once per order). */
export const paymentRequestedSchema = z.object({
  orderId: z.uuid(),
  userId: z.uuid(),
  amount: amountSchema,
});

/** Payments → orders: the order was charged. */
export const paymentSucceededSchema = z.object({
  orderId: z.uuid(),
  userId: z.uuid(),
  amount: amountSchema,
});

/** Payments → orders: the order could not be charged, and why. */
export const paymentFailedSchema = z.object({
  orderId: z.uuid(),
  userId: z.uuid(),
  amount: amountSchema,
  reason: failureReasonSchema,
});

/**
 * Orders → live feed (Redis pub/sub, then WebSocket): an order changed. `position` is the change's place
 * in the order change log: commit-ordered and gap-free, so a receiver that sees position P+2 after P knows
 * it missed P+1 and fills it from the log. Event ids of the feed are positions.
 * Version 2: version 1 carried an opaque time-based `eventId` and went out as a bare payload.
 */
export const orderStatusChangedSchema = z
  .object({
    position: z.number().int().positive(),
    orderId: z.uuid(),
    userId: z.uuid(),
    status: orderStatusSchema,
    reason: failureReasonSchema.nullable(),
    amount: amountSchema,
    description: z.string().min(1).max(500),
    occurredAt: z.iso.datetime({ offset: true }),
  })
  .refine((event) => (event.status === "CANCELLED") === (event.reason !== null), {
    message: "a reason is given exactly when the order is CANCELLED",
    path: ["reason"],
  });

/**
 * Payments → live balance (Redis pub/sub, then WebSocket): a top-up changed the user's balance to
 * `balance`. A hint to read the account again, not a log: a page that missed one reads its balance when
 * its subscription (re)starts. Order charges need none: the order's settle event says as much.
 */
export const balanceChangedSchema = z.object({
  userId: z.uuid(),
  amount: amountSchema,
  balance: z.number().int().nonnegative(),
});

/**
 * Payments → live balance (Redis pub/sub, then WebSocket): the user opened their account, with balance 0.
 * A fact of its own rather than a `BalanceChanged` of 0, whose `amount` is what a top-up added (positive).
 */
export const accountOpenedSchema = z.object({
  userId: z.uuid(),
});

/** Payload schema per message type and version. Add a version here; never change a published one. */
const payloadSchemas = {
  PaymentRequested: { 1: paymentRequestedSchema },
  PaymentSucceeded: { 1: paymentSucceededSchema },
  PaymentFailed: { 1: paymentFailedSchema },
  OrderStatusChanged: { 2: orderStatusChangedSchema },
  BalanceChanged: { 1: balanceChangedSchema },
  AccountOpened: { 1: accountOpenedSchema },
} as const;

export type MessageType = keyof typeof payloadSchemas;
export const messageTypes = Object.keys(payloadSchemas) as MessageType[];

/** The version producers write today, per type. */
const CURRENT_VERSIONS = {
  PaymentRequested: 1,
  PaymentSucceeded: 1,
  PaymentFailed: 1,
  OrderStatusChanged: 2,
  BalanceChanged: 1,
  AccountOpened: 1,
} as const satisfies { [T in MessageType]: keyof (typeof payloadSchemas)[T] };

type CurrentSchema<T extends MessageType> = (typeof payloadSchemas)[T][(typeof CURRENT_VERSIONS)[T] &
  keyof (typeof payloadSchemas)[T]];
export type PayloadOf<T extends MessageType> = z.infer<CurrentSchema<T> & z.ZodType>;

export type Message<T extends MessageType = MessageType> = {
  [K in T]: {
    messageId: string;
    type: K;
    version: (typeof CURRENT_VERSIONS)[K];
    /** ISO 8601 timestamp of the fact the message announces. */
    occurredAt: string;
    payload: PayloadOf<K>;
  };
}[T];

export type PaymentRequested = Message<"PaymentRequested">;
export type PaymentSucceeded = Message<"PaymentSucceeded">;
export type PaymentFailed = Message<"PaymentFailed">;
export type PaymentResult = PaymentSucceeded | PaymentFailed;
export type OrderStatusChanged = Message<"OrderStatusChanged">;

const headerSchema = z.object({
  messageId: z.uuid(),
  type: z.string(),
  version: z.number().int(),
  occurredAt: z.iso.datetime({ offset: true }),
  payload: z.unknown(),
});

/**
 * A new message with a fresh id. The payload is validated here, so a producer cannot write a message
 * that its consumer would reject. A repeated request (e.g. a reconciler asking again) is a new message.
 */
export function buildMessage<T extends MessageType>(
  type: T,
  payload: PayloadOf<T>,
  { occurredAt = new Date() }: { occurredAt?: Date } = {},
): Message<T> {
  const version = CURRENT_VERSIONS[type];
  const schema = (payloadSchemas[type] as Record<number, z.ZodType>)[version]!;
  return {
    messageId: randomUUID(),
    type,
    version,
    occurredAt: occurredAt.toISOString(),
    payload: schema.parse(payload),
  } as Message<T>;
}

export type ParseResult<M> = { ok: true; message: M } | { ok: false; error: string; messageId?: string };

/**
 * Parses untrusted data (a queue job, an inbox row) into a message, selected by its type and version.
 * Never throws: a message that fails is a poison message, and the caller decides where it goes.
 * With `expected`, any other type is rejected too (a queue carries only the types routed to it).
 */
export function parseMessage<T extends MessageType = MessageType>(
  data: unknown,
  expected?: readonly T[],
): ParseResult<Message<T>> {
  const header = headerSchema.safeParse(data);
  const messageId = messageIdOf(data);
  if (!header.success) return { ok: false, error: describe(header.error), messageId };
  const { type, version } = header.data;
  const versions: Record<number, z.ZodType | undefined> | undefined = Object.hasOwn(payloadSchemas, type)
    ? payloadSchemas[type as MessageType]
    : undefined;
  const schema = versions?.[version];
  if (!schema) return { ok: false, error: `unknown message type/version ${type}@${version}`, messageId };
  if (expected && !expected.includes(type as T)) {
    return {
      ok: false,
      error: `unexpected message type ${type} (expected ${expected.join(", ")})`,
      messageId,
    };
  }
  const payload = schema.safeParse(header.data.payload);
  if (!payload.success) return { ok: false, error: describe(payload.error, "payload"), messageId };
  return { ok: true, message: { ...header.data, payload: payload.data } as Message<T> };
}

export type OpenResult<M> =
  | { ok: true; message: M }
  | { ok: false; error: string; messageId?: string; reason: "signature" | "malformed" };

/**
 * A message received from Redis (a queue job's data): its signature is checked first, under `key`, and
 * only a message signed by this system is parsed (`parseMessage`). Never throws; a failure is poison,
 * and `reason` tells an unsigned or forged message (`signature`) from a malformed one.
 */
export function openMessage<T extends MessageType = MessageType>(
  key: MessageKey,
  data: unknown,
  expected?: readonly T[],
): OpenResult<Message<T>> {
  const verified = verifyMessage(key, data);
  if (!verified.ok)
    return { ok: false, error: verified.error, messageId: messageIdOf(data), reason: "signature" };
  const parsed = parseMessage(verified.message, expected);
  return parsed.ok ? parsed : { ...parsed, reason: "malformed" };
}

/**
 * A message received as text (Redis pub/sub), or null for anything that is not valid JSON, not signed
 * under `key` (see `openMessage`) or not a valid message of one of the `expected` types.
 */
export function openMessageText<T extends MessageType>(
  key: MessageKey,
  raw: string,
  expected: readonly T[],
): Message<T> | null {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return null;
  }
  const parsed = openMessage(key, data, expected);
  return parsed.ok ? parsed.message : null;
}

/** The payload of a message received as text, of the one `expected` type (see `openMessageText`). */
export function parseMessageText<T extends MessageType>(
  key: MessageKey,
  raw: string,
  expected: T,
): PayloadOf<T> | null {
  return openMessageText(key, raw, [expected])?.payload ?? null;
}

function messageIdOf(data: unknown): string | undefined {
  const id = (data as { messageId?: unknown } | null)?.messageId;
  return typeof id === "string" ? id.slice(0, 64) : undefined;
}

function describe(error: z.ZodError, root?: string) {
  return error.issues
    .map(
      (issue) =>
        `${[root, ...issue.path].filter((p) => p !== undefined).join(".") || "message"}: ${issue.message}`,
    )
    .join("; ");
}
