// What one WebSocket may ask of its web instance. Every feed a socket starts costs a read of the user,
// of the order log and of what changed since the client's position, and then holds a listener: without
// a bound, one signed-in socket could start thousands of them (a 64 KB frame carries hundreds) and
// starve every other user of the database pool. A page needs at most three feeds at once.

/** Feeds one socket may hold open at once. */
export const MAX_FEEDS_PER_SOCKET = 10;
/** Feed starts one socket may make in a burst; then one per `FEED_START_INTERVAL_MS`. */
export const FEED_START_BURST = 20;
export const FEED_START_INTERVAL_MS = 1_000;

export type FeedSlot = { ok: true; release: () => void } | { ok: false; retryAfterMs: number | null };

export type SocketBudget = {
  /** A slot for one more feed, released when the feed ends (any number of calls, one release). */
  take(now: number): FeedSlot;
  readonly open: number;
};

/** A token bucket for the starts, a counter for the open feeds. */
export function createSocketBudget(): SocketBudget {
  let open = 0;
  let starts = FEED_START_BURST;
  let refilledAt: number | null = null;
  return {
    take(now) {
      if (open >= MAX_FEEDS_PER_SOCKET) return { ok: false, retryAfterMs: null };
      refilledAt ??= now;
      const earned = Math.floor((now - refilledAt) / FEED_START_INTERVAL_MS);
      if (earned > 0) {
        starts = Math.min(FEED_START_BURST, starts + earned);
        refilledAt = starts === FEED_START_BURST ? now : refilledAt + earned * FEED_START_INTERVAL_MS;
      }
      if (starts < 1) return { ok: false, retryAfterMs: refilledAt + FEED_START_INTERVAL_MS - now };
      starts--;
      open++;
      let released = false;
      return {
        ok: true,
        release() {
          if (released) return;
          released = true;
          open--;
        },
      };
    },
    get open() {
      return open;
    },
  };
}

/** `feed` as it is, except that `release` runs once it ends, however it ends. */
export async function* releasedWhenDone<T>(feed: AsyncIterable<T>, release: () => void): AsyncGenerator<T> {
  try {
    yield* feed;
  } finally {
    release();
  }
}
