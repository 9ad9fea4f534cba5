// A shop's worth of traffic: shoppers with random balances placing orders concurrently over REST.
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { waitFor } from "@gozon/core/testing";
import type { ServiceDatabaseUrls } from "@gozon/core/config";
import { ApiError, inParallel, signUp, type ApiClient } from "./client.ts";
import { countOrders } from "./invariants.ts";

export type Shopper = { userId: string; api: ApiClient; hasAccount: boolean; topUp: number };

/** Deterministic pseudo-random numbers, so a failing run can be replayed with the same seed. */
export function random(seed: number) {
  let state = seed >>> 0 || 1;
  return (min: number, max: number) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return min + ((state >>> 0) % (max - min + 1));
  };
}

export async function createShoppers(webUrls: string[], count: number, seed = 1): Promise<Shopper[]> {
  const rnd = random(seed);
  const plans = Array.from({ length: count }, (_, i) => ({
    i,
    // About one shopper in ten never opens an account: their orders must be cancelled NO_ACCOUNT.
    hasAccount: i % 10 !== 9,
    topUp: rnd(0, 4) === 0 ? 0 : rnd(1_000, 80_000),
  }));
  return inParallel(
    10,
    plans.map((plan) => async () => {
      const base = webUrls[plan.i % webUrls.length] as string;
      const { userId, api } = await signUp(base, `shopper${plan.i}`);
      if (plan.hasAccount) {
        await api.createAccount();
        if (plan.topUp > 0) await api.topUp(plan.topUp);
      }
      return { userId, api, hasAccount: plan.hasAccount, topUp: plan.hasAccount ? plan.topUp : 0 };
    }),
  );
}

/** Places `count` orders spread over the shoppers, `concurrency` requests in flight. */
export async function placeOrders(
  shoppers: Shopper[],
  count: number,
  {
    concurrency = 50,
    seed = 2,
    onProgress,
  }: { concurrency?: number; seed?: number; onProgress?: (done: number) => void } = {},
) {
  const rnd = random(seed);
  let done = 0;
  const tasks = Array.from({ length: count }, (_, i) => {
    const shopper = shoppers[rnd(0, shoppers.length - 1)] as Shopper;
    const amount = rnd(100, 4_000);
    return async () => {
      const { order } = await withRetry(() =>
        shopper.api.createOrder(amount, `order #${i}`, `key-${seed}-${i}`),
      );
      onProgress?.(++done);
      return order;
    };
  });
  return inParallel(concurrency, tasks);
}

/**
 * Places orders at a steady `rate` per second (an open loop: a slow system does not slow the arrivals,
 * up to `maxInFlight` requests waiting) until `stop()`, which resolves once every started order is in.
 */
export function steadyOrders(
  shoppers: Shopper[],
  rate: number,
  { seed = 3, maxInFlight = 200 }: { seed?: number; maxInFlight?: number } = {},
) {
  const rnd = random(seed);
  const running = new Set<Promise<void>>();
  const counts = { placed: 0, failed: 0 };
  let stopped = false;
  const loop = (async () => {
    const start = performance.now();
    for (let i = 0; !stopped; i++) {
      const wait = (i * 1_000) / rate - (performance.now() - start);
      if (wait > 0) await sleep(wait);
      while (running.size >= maxInFlight) await Promise.race(running);
      if (stopped) break;
      const shopper = shoppers[rnd(0, shoppers.length - 1)] as Shopper;
      const amount = rnd(100, 4_000);
      const task = withRetry(() => shopper.api.createOrder(amount, `steady #${i}`, `steady-${seed}-${i}`))
        .then(
          () => void counts.placed++,
          () => void counts.failed++,
        )
        .finally(() => running.delete(task));
      running.add(task);
    }
  })();
  return {
    get placed() {
      return counts.placed;
    },
    async stop() {
      stopped = true;
      await loop;
      await Promise.all(running);
      return { ...counts };
    },
  };
}

/**
 * A client retries a failed request with the same Idempotency-Key (a web instance may be restarting):
 * the key makes the retry safe, exactly as a real client would rely on it.
 */
async function withRetry<T>(run: () => Promise<T>, attempts = 20): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      const clientError = error instanceof ApiError && error.status < 500;
      if (clientError || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}

/** Waits until no order is NEW and all `expected` orders exist; returns when that happened. */
export async function waitUntilSettled(urls: ServiceDatabaseUrls, expected: number, timeoutMs = 120_000) {
  await waitFor(
    async () => {
      const counts = await countOrders(urls);
      return counts.NEW === 0 && counts.FINISHED + counts.CANCELLED === expected;
    },
    { timeoutMs, intervalMs: 100, what: `all ${expected} orders to settle` },
  );
  return Date.now();
}
