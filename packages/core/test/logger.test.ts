import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, expect, it } from "vitest";
import { startProcess, waitFor, type RunningProcess } from "@gozon/core/testing";

const testDir = path.dirname(fileURLToPath(import.meta.url));
let child: RunningProcess | undefined;

function run(how: "exit" | "throw" | "stay" | "secrets") {
  child = startProcess("node", ["--import", "tsx", path.join(testDir, "fixtures/log-and-exit.ts"), how], {
    cwd: testDir,
    env: { ...process.env, LOG_LEVEL: "info" },
  });
  return child;
}

afterEach(async () => {
  await child?.stop("SIGKILL");
  child = undefined;
});

const lastLine = (how: string) => `"how":"${how}","msg":"the last line before leaving"`;

// Lines are buffered (logger.ts): these are the ways out that must not lose the last one.
it("writes a buffered line when the process exits right after it", async () => {
  const proc = run("exit");
  expect(await proc.exited).toBe(3);
  expect(proc.output()).toContain(lastLine("exit"));
});

it("writes a buffered line when the process dies of an uncaught exception", async () => {
  const proc = run("throw");
  expect(await proc.exited).toBe(1);
  expect(proc.output()).toContain(lastLine("throw"));
  expect(proc.output()).toContain("uncaught on purpose");
});

it("writes a line of a quiet process within the flush interval, without waiting for more", async () => {
  const proc = run("stay");
  await waitFor(() => proc.output().includes(lastLine("stay")), {
    timeoutMs: 10_000,
    what: "the line of a process that logs nothing else",
  });
  expect(proc.child.exitCode).toBeNull();
});

it("redacts passwords, tokens and auth headers at the top, one level down and in bindings, and keeps the rest", async () => {
  const proc = run("secrets");
  expect(await proc.exited).toBe(0);
  const lines = proc
    .output()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const byMsg = new Map(lines.map((line) => [line.msg, line]));
  // Every secret the fixture logs contains this.
  expect(proc.output()).not.toContain("s3cr3t-");
  const hidden = "[redacted]";
  expect(byMsg.get("top level")).toMatchObject({
    password: hidden,
    passwordHash: hidden,
    email: "shopper@example.com",
  });
  expect(byMsg.get("one level down")).toMatchObject({
    input: { password: hidden, passwordHash: hidden, amount: 1500 },
  });
  expect(byMsg.get("tokens")).toMatchObject({ accessToken: hidden, session: { refreshToken: hidden } });
  expect(byMsg.get("a child's bindings")).toMatchObject({ accessToken: hidden });
  expect(byMsg.get("request")).toMatchObject({ req: { headers: { authorization: hidden, cookie: hidden } } });
  expect(byMsg.get("headers")).toMatchObject({ headers: { authorization: hidden, cookie: hidden } });
});
