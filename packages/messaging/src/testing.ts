// Helpers for tests that share one Redis: each run uses its own key prefix and removes only its own keys.
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";

/** A REDIS_PREFIX no other run uses. */
export function uniqueRedisPrefix(label: string) {
  return `test-${label}-${process.pid}-${randomUUID().slice(0, 8)}`;
}

/** Deletes every key under `prefix:` (SCAN + UNLINK; never FLUSH a shared Redis). */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string) {
  if (!/^test-/.test(prefix)) throw new Error(`refusing to delete keys outside a test prefix: ${prefix}`);
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== "0");
}
