// How the batcher forms groups: at once when idle, from whatever queued while a group ran, never over
// the maximum; and how a failed group's items get their own results.
import { describe, expect, it } from "vitest";
import { createGroupBatcher, type GroupEvent } from "../src/request-batcher.ts";

/** A group runner the test finishes by hand, recording the groups it was given. */
function manualGroups() {
  const groups: number[][] = [];
  const pending: { resolve: () => void; reject: (error: Error) => void }[] = [];
  const runGroup = (items: number[]) => {
    groups.push(items);
    return new Promise<number[]>((resolve, reject) => {
      pending.push({ resolve: () => resolve(items.map((item) => item * 10)), reject });
    });
  };
  /** Waits until `n` groups have started (the batcher starts them asynchronously). */
  const started = async (n: number) => {
    for (let i = 0; i < 100 && groups.length < n; i++) await new Promise((r) => setImmediate(r));
    expect(groups).toHaveLength(n);
  };
  return { groups, pending, runGroup, started };
}

describe("createGroupBatcher", () => {
  it("runs a lone item at once as a group of one, and items of one turn as one group", async () => {
    const { groups, pending, runGroup, started } = manualGroups();
    const batcher = createGroupBatcher({ runGroup, runOne: () => Promise.reject(new Error("unused")) });
    const first = batcher.submit(1);
    await started(1);
    pending[0]!.resolve();
    expect(await first).toBe(10);

    const burst = [2, 3, 4].map((item) => batcher.submit(item));
    await started(2);
    pending[1]!.resolve();
    expect(await Promise.all(burst)).toEqual([20, 30, 40]);
    expect(groups).toEqual([[1], [2, 3, 4]]);
  });

  it("forms the next group from what was submitted while one ran, up to the maximum size", async () => {
    const { groups, pending, runGroup, started } = manualGroups();
    const batcher = createGroupBatcher({
      runGroup,
      runOne: () => Promise.reject(new Error("unused")),
      maxGroupSize: 3,
    });
    const results = [batcher.submit(1)];
    await started(1);
    for (const item of [2, 3, 4, 5]) results.push(batcher.submit(item));
    await new Promise((r) => setImmediate(r));
    expect(groups).toHaveLength(1); // one group in flight at a time
    pending[0]!.resolve();
    await started(2);
    pending[1]!.resolve();
    await started(3);
    pending[2]!.resolve();
    expect(await Promise.all(results)).toEqual([10, 20, 30, 40, 50]);
    expect(groups).toEqual([[1], [2, 3, 4], [5]]);
  });

  it("runs each item of a failed group on its own, each with its own result, without holding up the next group", async () => {
    const { groups, pending, runGroup, started } = manualGroups();
    const events: GroupEvent[] = [];
    let finishOne = () => {};
    const oneFinished = new Promise<void>((resolve) => (finishOne = resolve));
    const batcher = createGroupBatcher({
      runGroup,
      runOne: async (item: number, groupError) => {
        expect(groupError).toMatchObject({ message: "poison" });
        await oneFinished;
        if (item === 2) throw new Error(`item ${item} fails alone`);
        return item * 100;
      },
      onGroup: (event) => events.push(event),
    });
    const failing = [1, 2, 3].map((item) => batcher.submit(item));
    await started(1);
    const next = batcher.submit(4);
    pending[0]!.reject(new Error("poison"));
    await started(2); // while the failed group's items still run alone
    pending[1]!.resolve();
    expect(await next).toBe(40);
    finishOne();
    expect(await Promise.allSettled(failing)).toEqual([
      { status: "fulfilled", value: 100 },
      { status: "rejected", reason: new Error("item 2 fails alone") },
      { status: "fulfilled", value: 300 },
    ]);
    expect(groups).toEqual([[1, 2, 3], [4]]);
    expect(events).toEqual([
      { size: 3, ms: expect.any(Number), error: new Error("poison") },
      { size: 1, ms: expect.any(Number) },
    ]);
  });
});
