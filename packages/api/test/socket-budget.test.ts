import { describe, expect, it } from "vitest";
import {
  createSocketBudget,
  FEED_START_BURST,
  FEED_START_INTERVAL_MS,
  MAX_FEEDS_PER_SOCKET,
  pacedFeed,
} from "../src/live/socket-budget.ts";

const take = (budget: ReturnType<typeof createSocketBudget>, now: number) => {
  const slot = budget.take(now);
  if (!slot.ok) throw new Error(`refused (retry after ${slot.retryAfterMs})`);
  return slot;
};

describe("a socket's budget", () => {
  it(`holds ${MAX_FEEDS_PER_SOCKET} feeds open at most; a release frees one slot, however often it is called`, () => {
    const budget = createSocketBudget();
    const slots = Array.from({ length: MAX_FEEDS_PER_SOCKET }, () => take(budget, 0));
    expect(budget.take(0)).toEqual({ ok: false, retryAfterMs: null });
    slots[0]!.release();
    slots[0]!.release();
    expect(budget.open).toBe(MAX_FEEDS_PER_SOCKET - 1);
    take(budget, 0);
    expect(budget.take(0)).toEqual({ ok: false, retryAfterMs: null });
  });

  it(`starts ${FEED_START_BURST} in a burst, then one per ${FEED_START_INTERVAL_MS} ms, never saving more than the burst`, () => {
    const budget = createSocketBudget();
    for (let i = 0; i < FEED_START_BURST; i++) take(budget, 1_000).release();
    expect(budget.take(1_000)).toEqual({ ok: false, retryAfterMs: FEED_START_INTERVAL_MS });
    expect(budget.take(1_400)).toEqual({ ok: false, retryAfterMs: FEED_START_INTERVAL_MS - 400 });
    take(budget, 2_000).release();
    expect(budget.take(2_999)).toEqual({ ok: false, retryAfterMs: 1 });
    take(budget, 3_000).release();
    // A long quiet spell earns the burst back, no more.
    for (let i = 0; i < FEED_START_BURST; i++) take(budget, 1_000_000).release();
    expect(budget.take(1_000_000).ok).toBe(false);
  });

  it("gives the slot back when the feed ends by itself", async () => {
    let released = 0;
    async function* twoEvents() {
      yield 1;
      yield 2;
    }
    const seen: number[] = [];
    for await (const event of pacedFeed(twoEvents(), () => released++)) seen.push(event);
    expect(seen).toEqual([1, 2]);
    expect(released).toBe(1);
  });

  it("pulls no event from the feed while the socket has no room, and goes on once it has", async () => {
    let pulled = 0;
    async function* replay() {
      for (let position = 1; position <= 5; position++) {
        pulled = position;
        yield position;
      }
    }
    let full = false;
    let drain: (() => void) | undefined;
    const drained = () => (full ? new Promise<void>((resolve) => (drain = resolve)) : null);
    const feed = pacedFeed(replay(), () => undefined, drained);
    expect((await feed.next()).value).toBe(1);
    full = true; // the client stopped reading
    const next = feed.next();
    // The feed made the second event and waits with it: nothing more is read from the log meanwhile.
    await expect.poll(() => drain).toBeDefined();
    expect(pulled).toBe(2);
    full = false;
    drain!();
    expect((await next).value).toBe(2);
    const rest: number[] = [];
    for await (const event of feed) rest.push(event);
    expect(rest).toEqual([3, 4, 5]);
  });
});
