import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { isAlive, waitFor } from "@gozon/core/testing";
import { supervise, type Supervisor } from "../src/supervisor.ts";
import { capturingLogger } from "@gozon/core/testing";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gozon-supervisor-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// Records its pid, then: run 1 exits with code 3, run 2 kills itself, later runs stay up.
const flaky = path.join(dir, "flaky.mjs");
fs.writeFileSync(
  flaky,
  `import fs from "node:fs";
const file = process.argv[2];
fs.appendFileSync(file, process.pid + "\\n");
const runs = fs.readFileSync(file, "utf8").trim().split("\\n").length;
if (runs === 1) process.exit(3);
if (runs === 2) process.kill(process.pid, "SIGKILL");
setInterval(() => {}, 1000);
`,
);

// Ignores SIGTERM, so only SIGKILL stops it.
const stubborn = path.join(dir, "stubborn.mjs");
fs.writeFileSync(
  stubborn,
  `import fs from "node:fs";
process.on("SIGTERM", () => {});
fs.writeFileSync(process.argv[2], String(process.pid));
setInterval(() => {}, 1000);
`,
);

const pidsIn = (file: string) =>
  fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map(Number) : [];

let supervisor: Supervisor | undefined;
afterEach(async () => {
  await supervisor?.stop();
  supervisor = undefined;
});

describe("supervise", () => {
  it("restarts a child that exits, with growing backoff, and logs each restart", async () => {
    const { log, lines } = capturingLogger();
    const pidFile = path.join(dir, "flaky.pids");
    supervisor = supervise(
      [{ name: "flaky", command: process.execPath, args: [flaky, pidFile], env: process.env, cwd: dir }],
      log,
      { minBackoffMs: 50 },
    );

    const pids = await waitFor(
      () => {
        const pids = pidsIn(pidFile);
        const settled = pids.length === 3 && supervisor?.pids().flaky === pids[2] && isAlive(pids[2]!);
        return settled ? pids : undefined;
      },
      { what: "the third run of the flaky child" },
    );
    const restarts = lines.filter((line) => line.child === "flaky" && "restartInMs" in line);
    expect(restarts.map(({ code, signal, restartInMs }) => ({ code, signal, restartInMs }))).toEqual([
      { code: 3, signal: null, restartInMs: 50 },
      { code: null, signal: "SIGKILL", restartInMs: 100 },
    ]);

    await supervisor.stop();
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    expect(supervisor.pids().flaky).toBeUndefined();
    expect(pidsIn(pidFile)).toHaveLength(3); // stopped children are not restarted
  });

  it("kills a child that ignores SIGTERM after the grace period", async () => {
    const { log, lines } = capturingLogger();
    const pidFile = path.join(dir, "stubborn.pid");
    supervisor = supervise(
      [
        {
          name: "stubborn",
          command: process.execPath,
          args: [stubborn, pidFile],
          env: process.env,
          cwd: dir,
        },
      ],
      log,
      { graceMs: 300 },
    );
    const [pid] = await waitFor(() => (pidsIn(pidFile).length === 1 ? pidsIn(pidFile) : undefined), {
      what: "the stubborn child",
    });

    await supervisor.stop();
    expect(isAlive(pid!)).toBe(false);
    expect(lines.some((line) => String(line.msg).includes("ignored SIGTERM"))).toBe(true);
    expect(lines.some((line) => "restartInMs" in line)).toBe(false);
  });

  it("retries a child that cannot be spawned, and stop() cancels the pending restart", async () => {
    const { log, lines } = capturingLogger();
    supervisor = supervise(
      [{ name: "missing", command: path.join(dir, "no-such-command"), args: [], env: process.env, cwd: dir }],
      log,
      { minBackoffMs: 20 },
    );
    await waitFor(
      () => lines.filter((line) => line.child === "missing" && "restartInMs" in line).length >= 2,
      {
        what: "two restart attempts",
      },
    );
    await supervisor.stop();
    expect(supervisor.pids().missing).toBeUndefined();
  });
});
