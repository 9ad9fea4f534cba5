// Group commit as a unit: what forms a group, and what a failing group does to its members.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { groupCommit } from "../src/group-commit.ts";

/** A commit that waits for the test to release it, recording each group it was given. */
function gatedCommit() {
  const groups: number[][] = [];
  const gates: (() => void)[] = [];
  const commitGroup = async (items: number[]) => {
    groups.push(items);
    await new Promise<void>((resolve) => gates.push(resolve));
    if (items.includes(13)) throw new Error("poison in the group");
    return items.map((n) => n * 10);
  };
  const releaseAll = () => gates.splice(0).forEach((open) => open());
  return { groups, commitGroup, releaseAll };
}

/** Releases every waiting commit until `done` settles. */
async function drive<T>(gate: ReturnType<typeof gatedCommit>, done: Promise<T>) {
  let finished = false;
  void done.finally(() => (finished = true)).catch(() => {});
  while (!finished) {
    await new Promise((resolve) => setImmediate(resolve));
    gate.releaseAll();
  }
  return done;
}

describe("groupCommit", () => {
  it("groups what is handed in within one turn, and what arrives while a commit runs", async () => {
    const gate = gatedCommit();
    const submit = groupCommit({ commitGroup: gate.commitGroup, maxGroup: 3 });
    const first = [1, 2].map((n) => submit(n));
    while (gate.groups.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const later = [3, 4, 5, 6].map((n) => submit(n));
    expect(await drive(gate, Promise.all([...first, ...later]))).toEqual([10, 20, 30, 40, 50, 60]);
    expect(gate.groups).toEqual([[1, 2], [3, 4, 5], [6]]);
  });

  it("retries a failed group one by one, so only the poison item fails", async () => {
    const gate = gatedCommit();
    const submit = groupCommit({ commitGroup: gate.commitGroup });
    const first = submit(1);
    const rest = [12, 13, 14].map((n) => submit(n));
    const settled = await drive(gate, Promise.allSettled([first, ...rest]));
    expect(settled.map((s) => (s.status === "fulfilled" ? s.value : "failed"))).toEqual([
      10,
      120,
      "failed",
      140,
    ]);
    expect(gate.groups).toEqual([[1, 12, 13, 14], [1], [12], [13], [14]]);
  });
});

describe("groupCommit's wait for company", () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] }));
  afterEach(() => vi.useRealTimers());

  /**
   * Submits items 0..count-1, `gapMs` apart on the fake clock, to commits that take no time; returns each
   * group with the clock at its commit (item i arrived at i × gapMs).
   */
  async function stream(
    count: number,
    gapMs: number,
    options: { lingerMs: number; maxGroup?: number; steadyGapMs?: number },
  ) {
    const start = performance.now();
    const groups: { items: number[]; at: number }[] = [];
    const submit = groupCommit({
      commitGroup: async (items: number[]) => {
        groups.push({ items, at: performance.now() - start });
        return items;
      },
      ...options,
    });
    const done: Promise<number>[] = [];
    for (let i = 0; i < count; i++) {
      done.push(submit(i));
      await vi.advanceTimersByTimeAsync(gapMs);
    }
    await vi.runAllTimersAsync();
    expect(await Promise.all(done)).toEqual([...Array(count).keys()]);
    return groups;
  }

  it("commits each item alone and at once when items come further apart than a steady stream's", async () => {
    const groups = await stream(60, 10, { lingerMs: 3, steadyGapMs: 8 });
    expect(groups.map((g) => g.items.length)).toEqual(Array(60).fill(1));
    expect(groups.every((g) => g.at === g.items[0]! * 10)).toBe(true);
  });

  it("in a stream steadier than steadyGapMs but sparser than the wait, a lone item waits for the next", async () => {
    // 4 ms apart: over the 3 ms wait, under the 8 ms steady gap, as at half the saga's max on a slow host.
    const waited = await stream(60, 4, { lingerMs: 3, steadyGapMs: 8 });
    const late = waited.filter((g) => g.items[0]! >= 40);
    expect(late.length).toBeGreaterThan(0);
    for (const g of late) expect(g.at - g.items[0]! * 4).toBe(3);
    // With the threshold at the wait itself, the same stream never waits.
    const alone = await stream(60, 4, { lingerMs: 3, steadyGapMs: 3 });
    expect(alone.every((g) => g.items.length === 1 && g.at === g.items[0]! * 4)).toBe(true);
  });

  it("in a steady stream, lets a lone item wait for the next ones and commits them together", async () => {
    const groups = await stream(80, 1, { lingerMs: 3 });
    // The first arrivals do not wait: one quick item after a quiet spell is not yet a stream.
    expect(groups[0]).toEqual({ items: [0], at: 0 });
    // (The last group may have fewer arrivals left to wait for.)
    const late = groups.filter((g) => g.items[0]! >= 40 && g.items[0]! < 76);
    expect(late.length).toBeGreaterThan(0);
    for (const g of late) {
      expect(g.items.length).toBeGreaterThanOrEqual(3);
      // Nobody waits longer than the wait.
      expect(g.at - g.items[0]!).toBeLessThanOrEqual(3);
    }
  });

  it("stops waiting as soon as the group is full", async () => {
    const groups = await stream(80, 1, { lingerMs: 50, maxGroup: 2 });
    // (The last item has no partner and waits the whole 50 ms.)
    const late = groups.filter((g) => g.items[0]! >= 40 && g.items[0]! < 79);
    expect(late.length).toBeGreaterThan(0);
    for (const g of late) expect(g).toEqual({ items: [g.items[0]!, g.items[0]! + 1], at: g.items[0]! + 1 });
  });

  it("never waits with lingerMs 0", async () => {
    const groups = await stream(80, 1, { lingerMs: 0 });
    expect(groups.every((g) => g.items.length === 1 && g.at === g.items[0])).toBe(true);
  });
});
