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

/**
 * Null when the socket can take more now; otherwise a promise that settles once it can (its client has
 * read what was sent) or once the socket is given up on.
 */
export type Drained = () => Promise<void> | null;

export type SocketBudget = {
  /** A slot for one more feed, released when the feed ends (any number of calls, one release). */
  take(now: number): FeedSlot;
  readonly open: number;
  /** Asked before each event a feed sends (see `pacedFeed`). */
  readonly drained: Drained;
};

/** A token bucket for the starts, a counter for the open feeds; `drained` from the socket. */
export function createSocketBudget({ drained = () => null }: { drained?: Drained } = {}): SocketBudget {
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
    drained,
  };
}

/**
 * `feed` as it is, except that `release` runs once it ends, however it ends, and that each event waits
 * until the socket has room (`drained`). tRPC sends a feed's events as fast as the feed yields them, and
 * a socket buffers whatever its client does not read: a replay of the whole order log to a client that
 * stopped reading would otherwise sit in the web process's memory. Waiting here, the feed is not pulled,
 * so a replay pauses where it is and live events pile up only to the feed's own bound (order-feed.ts).
 */
export async function* pacedFeed<T>(
  feed: AsyncIterable<T>,
  release: () => void,
  drained: Drained = () => null,
): AsyncGenerator<T> {
  try {
    for await (const item of feed) {
      const room = drained();
      if (room) await room;
      yield item;
    }
  } finally {
    release();
  }
}
