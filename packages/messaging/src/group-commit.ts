// Group commit for queue consumers (and the web's new orders): the messages a consumer receives while
// its previous group is being committed, or within the same turn of the event loop, form the next group,
// committed in one transaction. At low load a group is one message, committed at once (latency first),
// after the current turn; under load the per-transaction cost is shared by the group. In between, in a
// steady stream where messages come less than `steadyGapMs` apart, a lone message waits `lingerMs` for
// company.
// Written by hand because it is a few dozen lines around our own transaction code; the generic batching
// libraries (dataloader and the like) batch per tick with no fallback when a batch fails.

export type GroupCommitOptions<I, O> = {
  /** Commits a whole group in one transaction; returns one result per item, in order. */
  commitGroup: (items: I[]) => Promise<O[]>;
  /**
   * Commits one item alone. When a group fails, each of its items is retried this way, so a poison item
   * fails only its own job. Defaults to `commitGroup([item])`.
   */
  commitOne?: (item: I) => Promise<O>;
  /** Largest group (default 64). */
  maxGroup?: number;
  /**
   * How long a lone item waits for others in a steady stream, when items arrive on average less than
   * `steadyGapMs` apart (default GROUP_LINGER_MS; 0 never waits). Between low load and the max, a group
   * would otherwise hold one item, and every item would pay for a statement, a commit (a WAL flush), a
   * publish and a wake-up of each process down the line; at half the saga's max that cost an order twice
   * its CPU at the max (README, "Where the goals stand"). The wait ends early when the group is full. A
   * lone item at low load, or the first of a burst after a quiet spell, never waits.
   */
  lingerMs?: number;
  /** Items closer than this on average make a steady stream (default STEADY_GAP_MS). */
  steadyGapMs?: number;
};

/** The wait of a lone item in a steady stream (`lingerMs`). */
export const GROUP_LINGER_MS = 3;

/**
 * A stream counts as steady from about 125 items a second. With the threshold at the wait itself (3 ms,
 * 333/s), half the saga's max on a slow host (about 270/s) stayed under it and every order paid alone;
 * at 8 ms the system's CPU per order at 267/s fell 14% and p99 by about a fifth, in three interleaved pairs
 * (docs/benchmark-history.md, "a thirteenth session"). Below 125/s nothing waits: the cores are idle
 * enough that latency comes first.
 */
export const STEADY_GAP_MS = 8;

/**
 * The gap between arrivals is averaged over about the last eight (an exponentially weighted mean). A gap
 * counts as at most MAX_GAP_MS, so that a long quiet spell is forgotten after some 25 close arrivals
 * rather than hundreds. The mean starts at MAX_GAP_MS: a short burst after a quiet spell is not a steady
 * stream, and does not wait.
 */
const GAP_WEIGHT = 1 / 8;
const MAX_GAP_MS = 100;

type Pending<I, O> = { item: I; resolve: (value: O) => void; reject: (reason: unknown) => void };

/** Returns `submit(item)`, which resolves when the item's group (or the item alone) has committed. */
export function groupCommit<I, O>({
  commitGroup,
  commitOne,
  maxGroup = 64,
  lingerMs = GROUP_LINGER_MS,
  steadyGapMs = STEADY_GAP_MS,
}: GroupCommitOptions<I, O>) {
  const one = commitOne ?? (async (item: I) => (await commitGroup([item]))[0]!);
  const queue: Pending<I, O>[] = [];
  let flushing = false;
  let lastArrival = performance.now();
  let meanGap = MAX_GAP_MS;
  /** Ends the current wait for company (set only while one runs). */
  let endWait: (() => void) | undefined;

  const commit = async (group: Pending<I, O>[]) => {
    if (group.length === 1) {
      const [only] = group;
      return one(only!.item).then(only!.resolve, only!.reject);
    }
    let results: O[];
    try {
      results = await commitGroup(group.map((p) => p.item));
    } catch {
      // The group rolled back as a whole: its items are tried one at a time (one connection), beside the
      // next group rather than before it, so an item stuck on a lock does not hold up later groups.
      void (async () => {
        for (const p of group) await one(p.item).then(p.resolve, p.reject);
      })();
      return;
    }
    group.forEach((p, i) => p.resolve(results[i]!));
  };

  const flush = async (wait: boolean) => {
    flushing = true;
    try {
      if (!wait) {
        // Items handed in during this turn of the event loop join the first: a group that committed
        // upstream resolves all its callers at once, and each hands its item on separately.
        await new Promise<void>((resolve) => setImmediate(resolve));
      } else {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, lingerMs);
          endWait = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        endWait = undefined;
      }
      while (queue.length > 0) await commit(queue.splice(0, maxGroup));
    } finally {
      flushing = false;
    }
  };

  return (item: I) =>
    new Promise<O>((resolve, reject) => {
      const now = performance.now();
      meanGap += GAP_WEIGHT * (Math.min(now - lastArrival, MAX_GAP_MS) - meanGap);
      lastArrival = now;
      queue.push({ item, resolve, reject });
      if (!flushing) void flush(lingerMs > 0 && meanGap < steadyGapMs);
      else if (endWait && queue.length >= maxGroup) endWait();
    });
}
