import { buildMessage, parseMessageText, type PayloadOf } from "@gozon/messaging/contracts";
import { signedText, type MessageKey } from "@gozon/messaging/signing";

/** A top-up as the live balance carries it: the account's new balance, and what was added. */
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

/** The event inside a pub/sub message, or null for anything that is not a valid BalanceChanged signed under `key`. */
export function parseBalanceEvent(key: MessageKey, raw: string): BalanceEvent | null {
  return parseMessageText(key, raw, "BalanceChanged");
}
