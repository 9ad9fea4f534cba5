// BullMQ keeps each queue in a few fixed keys of fixed types, and every script it runs touches some of
// them. A key of another type there (written by another hand, or by a tool that got the name wrong) fails
// each script that touches it, and nothing in BullMQ mends it: a string under `marker`, `events`, `meta`,
// `wait` or `id` refuses every add to the queue, one under `active`, `delayed` or `prioritized` stops its
// workers. The relay would back off and the reconciler ask again for ever, while no order settles.
// Such a key holds nothing of BullMQ's (no script could use it), so deleting it loses nothing: BullMQ
// creates the key again, of its type, when it next needs it.
import { QueueKeys } from "bullmq";
import type { RedisClient } from "@gozon/core/infra/redis-client";
import { every, type Periodic } from "@gozon/core/every";
import type { Logger } from "@gozon/core/logger";
import { LUA_INTEGER } from "@gozon/core/infra/redis-lua";

type StoredAs = "list" | "zset" | "set" | "hash" | "stream" | "string" | "integer";

/** The queue keys BullMQ uses here, and what each must hold. `integer`: a string INCR can count. */
const STORED_AS: Record<string, StoredAs> = {
  wait: "list",
  active: "list",
  paused: "list",
  marker: "zset",
  prioritized: "zset",
  delayed: "zset",
  completed: "zset",
  failed: "zset",
  "waiting-children": "zset",
  stalled: "set",
  meta: "hash",
  events: "stream",
  "stalled-check": "string",
  limiter: "integer",
  id: "integer",
  pc: "integer",
};

/**
 * KEYS: a queue's keys; ARGV: what each must hold. Deletes each that holds something else and returns
 * {key, what it held, ...}. One script, so nothing of BullMQ's comes between the check and the delete:
 * two workers mending at once cannot delete a key that BullMQ made anew in between.
 */
const MEND_SCRIPT = `${LUA_INTEGER}
local mended = {}
for i, key in ipairs(KEYS) do
  local held = redis.call('TYPE', key).ok
  if ARGV[i] == 'integer' and held == 'string' then
    held = integer(redis.call('GET', key)) and 'integer' or 'string, not an integer'
  end
  if held ~= 'none' and held ~= ARGV[i] then
    redis.call('DEL', key)
    table.insert(mended, key)
    table.insert(mended, held)
  end
end
return mended`;

export type MendedKey = { key: string; held: string };

/**
 * Deletes the keys of queue `name` that hold something BullMQ cannot use, and says which. A missing key
 * is sound (BullMQ creates each when it needs it). A queue's keys share its prefix's hash tag in a
 * cluster, so the script runs on the one node that holds them.
 */
export async function mendQueueKeys(redis: RedisClient, prefix: string, name: string): Promise<MendedKey[]> {
  const keys = new QueueKeys(prefix).getKeys(name);
  const suffixes = Object.keys(STORED_AS);
  const reply = (await redis.eval(
    MEND_SCRIPT,
    suffixes.length,
    ...suffixes.map((suffix) => keys[suffix]!),
    ...suffixes.map((suffix) => STORED_AS[suffix]!),
  )) as string[];
  const mended: MendedKey[] = [];
  for (let i = 0; i < reply.length; i += 2) mended.push({ key: reply[i]!, held: reply[i + 1]! });
  return mended;
}

/**
 * Mends the keys of `queues` now and every `intervalMs`, logging each key it deletes: someone or
 * something wrote where BullMQ keeps its queues, and an operator should know.
 */
export function startQueueKeyMender({
  connection,
  prefix,
  queues,
  log,
  intervalMs = 5_000,
}: {
  connection: RedisClient;
  prefix: string;
  queues: string[];
  log: Logger;
  intervalMs?: number;
}): Periodic {
  const mender = every(intervalMs, "queue keys", log, async () => {
    for (const queue of queues) {
      const mended = await mendQueueKeys(connection, prefix, queue);
      if (mended.length > 0)
        log.error({ queue, keys: mended }, "deleted queue keys BullMQ could not use (of the wrong type)");
    }
  });
  mender.tick();
  return mender;
}
