import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { startProcess } from "@gozon/core/testing";

const testDir = path.dirname(fileURLToPath(import.meta.url));

function run(failpoints: string | undefined) {
  const env = { ...process.env };
  if (failpoints === undefined) delete env.GOZON_FAILPOINTS;
  else env.GOZON_FAILPOINTS = failpoints;
  return startProcess("node", ["--import", "tsx", path.join(testDir, "fixtures/hit-failpoint.ts")], {
    cwd: testDir,
    env,
  });
}

it("does nothing unless armed", async () => {
  const child = run(undefined);
  expect(await child.exited).toBe(0);
  expect(child.output()).toContain("survived");
  const other = run("somewhere-else");
  expect(await other.exited).toBe(0);
});

it("kills the process with SIGKILL at the first hit, or at the N-th with name:N", async () => {
  const first = run("demo");
  expect(await first.exited).toBe("SIGKILL");
  expect(first.output()).toMatch(/hit 1\nfailpoint demo: SIGKILL\n$/);

  const second = run("other,demo:2");
  expect(await second.exited).toBe("SIGKILL");
  expect(second.output()).toMatch(/hit 2\nfailpoint demo: SIGKILL\n$/);
  expect(second.output()).not.toContain("hit 3");
});
