// Group commit for queue consumers (and the web's new orders): the messages a consumer receives while
// its previous group is being committed form the next group, committed in one transaction. At low load a
// group is one message (no timer waits to fill it: latency first); under load the per-transaction cost is
// shared by the group.
// Written by hand because it is a dozen lines around our own transaction code; the generic batching
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
};

type Pending<I, O> = { item: I; resolve: (value: O) => void; reject: (reason: unknown) => void };

/** Returns `submit(item)`, which resolves when the item's group (or the item alone) has committed. */
export function groupCommit<I, O>({ commitGroup, commitOne, maxGroup = 64 }: GroupCommitOptions<I, O>) {
  const one = commitOne ?? (async (item: I) => (await commitGroup([item]))[0]!);
  const queue: Pending<I, O>[] = [];
  let flushing = false;

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

  const flush = async () => {
    flushing = true;
    try {
      while (queue.length > 0) await commit(queue.splice(0, maxGroup));
    } finally {
      flushing = false;
    }
  };

  return (item: I) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (!flushing) void flush();
    });
}
