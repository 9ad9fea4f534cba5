// Group commit as a unit: what forms a group, and what a failing group does to its members.
import { describe, expect, it } from "vitest";
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
  it("commits the first item alone and groups what arrives while a commit runs", async () => {
    const gate = gatedCommit();
    const submit = groupCommit({ commitGroup: gate.commitGroup, maxGroup: 3 });
    const results = [1, 2, 3, 4, 5, 6].map((n) => submit(n));
    expect(await drive(gate, Promise.all(results))).toEqual([10, 20, 30, 40, 50, 60]);
    expect(gate.groups).toEqual([[1], [2, 3, 4], [5, 6]]);
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
    expect(gate.groups).toEqual([[1], [12, 13, 14], [12], [13], [14]]);
  });
});
