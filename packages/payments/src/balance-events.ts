import { buildMessage, openMessageText, type PayloadOf } from "@gozon/messaging/contracts";
import { signedText, type MessageKey } from "@gozon/messaging/signing";

/**
 * A change of an account as the live balance carries it: its new balance, and what was added. An account
 * just opened arrives as `amount` 0 and `balance` 0 (an `AccountOpened` message).
 */
export type BalanceEvent = PayloadOf<"BalanceChanged">;

/** The Redis pub/sub channel every web instance listens on for balance changes. */
export const balanceEventsChannel = (redisPrefix: string) => `${redisPrefix}:balance-changes`;

type Publisher = { publish(channel: string, message: string): Promise<unknown> };

/** Announces a committed top-up to every web instance, in the versioned envelope, signed under `key`. */
export async function publishBalanceEvent(
  redis: Publisher,
  redisPrefix: string,
  key: MessageKey,
  event: BalanceEvent,
) {
  const message = buildMessage("BalanceChanged", event);
  await redis.publish(balanceEventsChannel(redisPrefix), signedText(key, message));
}

/** Announces a committed account opening on the same channel: pages waiting for the account show it. */
export async function publishAccountOpened(
  redis: Publisher,
  redisPrefix: string,
  key: MessageKey,
  userId: string,
) {
  const message = buildMessage("AccountOpened", { userId });
  await redis.publish(balanceEventsChannel(redisPrefix), signedText(key, message));
}

/**
 * The event inside a pub/sub message, or null for anything that is not a valid BalanceChanged or
 * AccountOpened signed under `key`.
 */
export function parseBalanceEvent(key: MessageKey, raw: string): BalanceEvent | null {
  const message = openMessageText(key, raw, ["BalanceChanged", "AccountOpened"]);
  if (message === null) return null;
  return message.type === "AccountOpened"
    ? { userId: message.payload.userId, amount: 0, balance: 0 }
    : message.payload;
}
