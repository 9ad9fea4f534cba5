// Group commit for concurrent callers: each caller submits one item and awaits its own result; the items
// are run as groups, one group at a time, and a group that fails is run again item by item.
//
// Latency first: a group starts as soon as the current one ends (or at once, when none runs), without a
// timer to fill it; it holds whatever was submitted meanwhile, up to `maxGroupSize`. At low load a group
// is one item; under load groups grow with the time a group takes, and so does the work each commit
// carries. One group in flight: the next one forms while it runs, which is what makes groups grow, and two
// groups of one process would only contend for the same accounts and connections.

export type GroupEvent = {
  size: number;
  /** How long the group took, in ms (to its failure, when it failed). */
  ms: number;
  /** Set when the group failed and its items were run one by one. */
  error?: unknown;
};

export type GroupBatcherOptions<T, R> = {
  /** Runs a group; resolves with one result per item, in the items' order. */
  runGroup: (items: T[]) => Promise<R[]>;
  /** Runs one item of a failed group on its own; `groupError` is why the group failed. */
  runOne: (item: T, groupError: unknown) => Promise<R>;
  maxGroupSize?: number;
  onGroup?: (event: GroupEvent) => void;
};

export type GroupBatcher<T, R> = { submit: (item: T) => Promise<R> };

type Waiting<T, R> = { item: T; resolve: (result: R) => void; reject: (error: unknown) => void };

export function createGroupBatcher<T, R>({
  runGroup,
  runOne,
  maxGroupSize = 64,
  onGroup,
}: GroupBatcherOptions<T, R>): GroupBatcher<T, R> {
  const queue: Waiting<T, R>[] = [];
  let running = false;
  let scheduled = false;

  const startNext = () => {
    if (running || queue.length === 0) return;
    running = true;
    void run(queue.splice(0, maxGroupSize));
  };

  const run = async (group: Waiting<T, R>[]) => {
    const t0 = performance.now();
    let results: R[];
    try {
      results = await runGroup(group.map((waiting) => waiting.item));
      if (results.length !== group.length) {
        throw new Error(`a group of ${group.length} gave ${results.length} results`);
      }
    } catch (error) {
      // The next group need not wait for this one's items to be retried: they no longer share anything.
      running = false;
      startNext();
      onGroup?.({ size: group.length, ms: performance.now() - t0, error });
      for (const { item, resolve, reject } of group) runOne(item, error).then(resolve, reject);
      return;
    }
    running = false;
    startNext();
    onGroup?.({ size: group.length, ms: performance.now() - t0 });
    group.forEach(({ resolve }, i) => resolve(results[i]!));
  };

  return {
    submit: (item) =>
      new Promise<R>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        // Not a timer: items submitted in the same turn of the event loop (a burst of jobs fetched
        // together) start as one group rather than the first alone.
        if (!running && !scheduled) {
          scheduled = true;
          setImmediate(() => {
            scheduled = false;
            startNext();
          });
        }
      }),
  };
}
