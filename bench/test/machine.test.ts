import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it, vi } from "vitest";
import { CpuMeter, type Sample } from "../src/machine.ts";

const linux = fs.existsSync(`/proc/${process.pid}/task`);

describe.runIf(linux)("CpuMeter's counts", () => {
  const meter = new CpuMeter([{ name: "this process", match: (proc) => proc.pid === process.pid }]);

  it("counts each time this process slept waiting for a timer", async () => {
    const start = meter.sample();
    for (let i = 0; i < 5; i++) await sleep(20);
    const sleeps = meter.sleeps(start, meter.sample());
    expect(sleeps?.["this process"]).toBeGreaterThanOrEqual(5);
  });

  it("counts the time this process waited for a core while others kept every core busy", async () => {
    const spinners = Array.from({ length: os.availableParallelism() }, () =>
      spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }),
    );
    try {
      // One more runnable thread than cores: the scheduler shares them, so this one waits its turn. First
      // each spinner must be past its start-up and spinning (it has run at least one clock tick).
      const cpuTicks = (pid: number) => {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        return Number(fields[11]) + Number(fields[12]); // utime + stime
      };
      await vi.waitFor(
        () => {
          for (const spinner of spinners) expect(cpuTicks(spinner.pid!)).toBeGreaterThan(0);
        },
        { timeout: 10_000, interval: 20 },
      );
      const start = meter.sample();
      const until = performance.now() + 300;
      while (performance.now() < until) {
        // busy, ready to run all the while
      }
      const waits = meter.waits(start, meter.sample());
      expect(waits?.["this process"]).toBeGreaterThan(10);
    } finally {
      for (const spinner of spinners) spinner.kill("SIGKILL");
    }
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

describe("CpuMeter's usage", () => {
  const proc = (pid: number, ticks: number) => ({
    pid,
    ppid: 1,
    comm: "node",
    ticks,
    cwd: () => "",
    cmdline: () => "",
  });
  const sample = (total: number, idle: number, steal: number, ticks: number): Sample => ({
    at: 0,
    totalTicks: total,
    idleTicks: idle,
    stealTicks: steal,
    byPid: new Map([[7, proc(7, ticks)]]),
    syscallsByPid: new Map(),
    sleepsByPid: new Map(),
    waitMsByPid: new Map(),
  });

  it("counts a process's waits over the phase: from 0 if it started during it, never its whole life", () => {
    const meter = new CpuMeter([{ name: "ours", match: (p) => p.pid !== 1 }]);
    const start = sample(0, 0, 0, 0);
    start.byPid.set(8, proc(8, 0)); // running at the start, but its counts could not be read then
    start.waitMsByPid.set(7, 100);
    const end = sample(1_000, 500, 0, 240);
    for (const pid of [8, 9]) end.byPid.set(pid, proc(pid, 0)); // 9 started during the phase
    end.waitMsByPid.set(7, 130).set(8, 34_000).set(9, 5);
    expect(meter.waits(start, end)).toEqual({ ours: 30 + 5 });
  });

  it("reports the hypervisor's steal apart, not as cores this machine's processes used", () => {
    const meter = new CpuMeter([{ name: "ours", match: (p) => p.pid === 7 }]);
    const cores = os.availableParallelism();
    // 1,000 ticks in all: 500 idle, 200 stolen, 300 run here, 240 of them by our process.
    const usage = meter.usage(sample(0, 0, 0, 0), sample(1_000, 500, 200, 240))!;
    const toCores = (ticks: number) => Math.round((ticks / 1_000) * cores * 100) / 100;
    expect(usage.steal).toBe(toCores(200));
    expect(usage.machine).toBe(toCores(300));
    expect(usage.ours).toBe(toCores(240));
    expect(usage.other).toBe(toCores(60));
  });
});
