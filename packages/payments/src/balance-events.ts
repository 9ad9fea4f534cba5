import { buildMessage, openMessageText, type PayloadOf } from "@gozon/messaging/contracts";
import { signedText, type MessageKey } from "@gozon/messaging/signing";

/**
 * A change of an account as the live balance carries it to the pages (`payments.onBalanceChange`): its
 * new balance, and what was added. `TOP_UP` comes of a `BalanceChanged` message; `OPENED` of an
 * `AccountOpened` one, with `amount` and `balance` 0.
 */
export type BalanceEvent = {
  userId: string;
  change: "TOP_UP" | "OPENED";
  amount: number;
  balance: number;
};

/** The Redis pub/sub channel every web instance listens on for balance changes. */
export const balanceEventsChannel = (redisPrefix: string) => `${redisPrefix}:balance-changes`;

type Publisher = { publish(channel: string, message: string): Promise<unknown> };

/** Announces a committed top-up to every web instance, in the versioned envelope, signed under `key`. */
export async function publishBalanceEvent(
  redis: Publisher,
  redisPrefix: string,
  key: MessageKey,
  event: PayloadOf<"BalanceChanged">,
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
    ? { userId: message.payload.userId, change: "OPENED", amount: 0, balance: 0 }
    : { ...message.payload, change: "TOP_UP" };
}
