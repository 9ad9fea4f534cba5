import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { EVENT_LOOP_SAMPLE_MS } from "../src/metrics.ts";

const coreDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Runs a fresh Node process that makes the service registry and then idles for one second, and returns
 * how many times its main thread was woken in that second (voluntary context switches, Linux's count).
 * A fresh process, because the test runner's own event loop is anything but idle.
 */
async function idleWakeUps(): Promise<number> {
  const script = `
    import fs from "node:fs";
    import { createRegistry } from "./src/metrics.ts";
    createRegistry("idle-test");
    const woken = () => Number(/voluntary_ctxt_switches:\\s+(\\d+)/.exec(
      fs.readFileSync("/proc/self/task/" + process.pid + "/status", "utf8"))[1]);
    setTimeout(() => {
      const before = woken();
      setTimeout(() => console.log(woken() - before), 1000);
    }, 200);
  `;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--import", "tsx", "--input-type=module", "-e", script],
    { cwd: coreDir },
  );
  return Number(stdout.trim());
}

describe.runIf(fs.existsSync("/proc/self/task"))("createRegistry", () => {
  it("leaves an idle process asleep: the event-loop lag timer wakes it about 10 times a second, not 100", async () => {
    const wakeUps = await idleWakeUps();
    // One wake-up per lag sample and one for the test's own timer; prom-client's default (10 ms) gives
    // about 100. Other threads (GC, libuv's pool) are not counted: only the main thread's sleeps.
    expect(wakeUps).toBeLessThanOrEqual(2 * (1000 / EVENT_LOOP_SAMPLE_MS) + 5);
    expect(wakeUps).toBeGreaterThan(0);
  });
});
