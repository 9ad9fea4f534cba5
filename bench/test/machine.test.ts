import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { CpuMeter } from "../src/machine.ts";

const linux = fs.existsSync(`/proc/${process.pid}/task`);

describe.runIf(linux)("CpuMeter's counts", () => {
  const meter = new CpuMeter([{ name: "this process", match: (proc) => proc.pid === process.pid }]);

  it("counts each time this process slept waiting for a timer", async () => {
    const start = meter.sample();
    for (let i = 0; i < 5; i++) await sleep(20);
    const sleeps = meter.sleeps(start, meter.sample());
    expect(sleeps?.["this process"]).toBeGreaterThanOrEqual(5);
  });

  it("counts the system calls of writing and reading a file", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "gozon-meter-")), "f");
    const start = meter.sample();
    for (let i = 0; i < 10; i++) fs.writeFileSync(file, "x");
    for (let i = 0; i < 10; i++) fs.readFileSync(file);
    const calls = meter.syscalls(start, meter.sample());
    fs.rmSync(path.dirname(file), { recursive: true });
    expect(calls?.["this process"]).toBeGreaterThanOrEqual(20);
  });
});
