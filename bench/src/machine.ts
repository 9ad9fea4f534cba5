// What the numbers were measured on, and where the CPU went while they were measured (Linux /proc).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export type MachineInfo = {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
  kernel: string;
  postgres?: string;
  redis?: string;
};

export function machineInfo(extra: { postgres?: string; redis?: string } = {}): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() || "unknown",
    cores: os.availableParallelism?.() ?? cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    kernel: os.release(),
    ...extra,
  };
}

/** A process group whose CPU time is tracked; `match` decides per /proc entry. */
export type CpuGroup = { name: string; match: (proc: ProcEntry) => boolean };

export type ProcEntry = {
  pid: number;
  ppid: number;
  comm: string;
  ticks: number;
  cwd: () => string;
  /** The command line, arguments joined by spaces. */
  cmdline: () => string;
};

export type Sample = {
  at: number;
  totalTicks: number;
  idleTicks: number;
  stealTicks: number;
  byPid: Map<number, ProcEntry>;
  /** System calls made so far (read + write class) by each process a group claims. */
  syscallsByPid: Map<number, number>;
  /** Times so far that a thread of each claimed process went to sleep waiting (voluntary switches). */
  sleepsByPid: Map<number, number>;
  /** Milliseconds so far that the threads of each claimed process were ready to run but had no core. */
  waitMsByPid: Map<number, number>;
};

/**
 * Cores used over a phase, per group; `machine` is everything that ran in this virtual machine, `other`
 * what no group claims, `steal` the time its virtual CPUs were ready to run but the hypervisor ran
 * something else (not part of `machine`: no process here used it, yet every process waited for it).
 */
export type CpuUsage = Record<string, number> & { machine: number; other: number; steal: number };

function readProcs(): Map<number, ProcEntry> {
  const byPid = new Map<number, ProcEntry>();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name may contain spaces and parentheses: fields after the last ')' are fixed.
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const pid = Number(entry);
      let cwd: string | undefined;
      let cmdline: string | undefined;
      byPid.set(pid, {
        pid,
        ppid: Number(fields[1]),
        comm,
        ticks: Number(fields[11]) + Number(fields[12]), // utime + stime
        cwd: () => {
          if (cwd === undefined) {
            try {
              cwd = fs.readlinkSync(`/proc/${entry}/cwd`);
            } catch {
              cwd = "";
            }
          }
          return cwd;
        },
        cmdline: () => {
          if (cmdline === undefined) {
            try {
              cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").trim();
            } catch {
              cmdline = "";
            }
          }
          return cmdline;
        },
      });
    } catch {
      // the process ended while we looked
    }
  }
  return byPid;
}

/** syscr + syscw from /proc/PID/io (read- and write-class system calls), or null when unreadable. */
function readSyscalls(pid: number): number | null {
  try {
    const io = fs.readFileSync(`/proc/${pid}/io`, "utf8");
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, "m").exec(io)?.[1] ?? NaN);
    const calls = field("syscr") + field("syscw");
    return Number.isFinite(calls) ? calls : null;
  } catch {
    return null; // ended, or not ours to read
  }
}

/**
 * Per thread of /proc/PID/task, summed: `sleeps`, its voluntary_ctxt_switches (a thread that blocked on a
 * socket, a lock or a timer and had to be woken again), and `waitMs`, the second field of its schedstat
 * (nanoseconds it was ready to run but waited for a core). Null when unreadable.
 */
function readThreads(pid: number): { sleeps: number; waitMs: number } | null {
  try {
    let sleeps = 0;
    let waitNs = 0;
    for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
      const status = fs.readFileSync(`/proc/${pid}/task/${task}/status`, "utf8");
      sleeps += Number(/^voluntary_ctxt_switches:\s+(\d+)$/m.exec(status)?.[1] ?? 0);
      waitNs += Number(fs.readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[1] ?? 0);
    }
    return { sleeps, waitMs: waitNs / 1e6 };
  } catch {
    return null; // ended, or not ours to read
  }
}

function readTotals() {
  const line = fs.readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.slice(0, 8).reduce((sum, v) => sum + v, 0); // guest time is already in user
  const idle = (values[3] ?? 0) + (values[4] ?? 0); // idle + iowait
  return { total, idle, steal: values[7] ?? 0 };
}

/**
 * Samples every process's CPU ticks at the start and the end of a phase. /proc/stat's total grows by
 * cores × seconds × USER_HZ, so a share of it times the core count is cores used, with no HZ constant.
 */
export class CpuMeter {
  private readonly cores = os.availableParallelism?.() ?? os.cpus().length;
  private readonly enabled = fs.existsSync("/proc/stat");

  constructor(private readonly groups: CpuGroup[]) {}

  sample(): Sample | null {
    if (!this.enabled) return null;
    const totals = readTotals();
    const byPid = readProcs();
    const syscallsByPid = new Map<number, number>();
    const sleepsByPid = new Map<number, number>();
    const waitMsByPid = new Map<number, number>();
    for (const [pid, proc] of byPid) {
      if (!this.groups.some((group) => group.match(proc))) continue;
      const calls = readSyscalls(pid);
      if (calls !== null) syscallsByPid.set(pid, calls);
      const threads = readThreads(pid);
      if (threads !== null) {
        sleepsByPid.set(pid, threads.sleeps);
        waitMsByPid.set(pid, threads.waitMs);
      }
    }
    return {
      at: Date.now(),
      totalTicks: totals.total,
      idleTicks: totals.idle,
      stealTicks: totals.steal,
      byPid,
      syscallsByPid,
      sleepsByPid,
      waitMsByPid,
    };
  }

  /**
   * System calls per group over a phase. Unlike CPU time, which moves with whatever else the (virtual)
   * machine is doing, this is a count: runs of the same code give nearly the same calls per order, so it
   * shows a change in the work done (fewer round trips, fewer wake-ups) even where timing noise hides it.
   */
  syscalls(start: Sample | null, end: Sample | null): Record<string, number> | null {
    return this.counted(start, end, (sample) => sample.syscallsByPid);
  }

  /**
   * Sleeps per group over a phase: how often its threads blocked and had to be woken. A wake-up costs a
   * switch on the core and, on a virtual machine, an exit to the hypervisor, so a design that makes each
   * order wake more processes costs CPU that no profile of the processes' own code shows.
   */
  sleeps(start: Sample | null, end: Sample | null): Record<string, number> | null {
    return this.counted(start, end, (sample) => sample.sleepsByPid);
  }

  /**
   * Milliseconds per group over a phase that its threads were ready to run and waited for a core (the
   * scheduler's run-queue delay). On a machine with spare cores it stays near 0; where it grows, each
   * wake-up on an order's path waits its turn for a core before its own work starts.
   */
  waits(start: Sample | null, end: Sample | null): Record<string, number> | null {
    return this.counted(start, end, (sample) => sample.waitMsByPid);
  }

  private counted(
    start: Sample | null,
    end: Sample | null,
    counter: (sample: Sample) => Map<number, number>,
  ): Record<string, number> | null {
    if (!start || !end) return null;
    const counts: Record<string, number> = {};
    for (const group of this.groups) {
      let total = 0;
      for (const [pid, proc] of end.byPid) {
        const now = counter(end).get(pid);
        if (now === undefined || !group.match(proc)) continue;
        const before = counter(start).get(pid);
        // A process that ran at the start but could not be read then: its whole life would count. Left
        // out; one that started during the phase counts from 0.
        if (before === undefined && start.byPid.has(pid)) continue;
        total += now - (before ?? 0);
      }
      counts[group.name] = total;
    }
    return counts;
  }

  usage(start: Sample | null, end: Sample | null): CpuUsage | null {
    if (!start || !end) return null;
    const totalDelta = end.totalTicks - start.totalTicks;
    if (totalDelta <= 0) return null;
    const toCores = (ticks: number) => Math.round((ticks / totalDelta) * this.cores * 100) / 100;
    const usage: Record<string, number> = {};
    let claimed = 0;
    for (const group of this.groups) {
      let ticks = 0;
      for (const [pid, proc] of end.byPid) {
        if (!group.match(proc)) continue;
        ticks += proc.ticks - (start.byPid.get(pid)?.ticks ?? 0);
      }
      usage[group.name] = toCores(ticks);
      claimed += ticks;
    }
    const steal = end.stealTicks - start.stealTicks;
    const busy = totalDelta - (end.idleTicks - start.idleTicks) - steal;
    return {
      ...usage,
      machine: toCores(busy),
      other: toCores(Math.max(0, busy - claimed)),
      steal: toCores(steal),
    } as CpuUsage;
  }
}

/** Groups for the system's processes (children of this one, told apart by working directory). */
export function systemCpuGroups(repoRoot: string): CpuGroup[] {
  const child = (dir: string) => (proc: ProcEntry) =>
    proc.ppid === process.pid && proc.cwd() === path.join(repoRoot, dir);
  // The references' own processes run in bench/: told apart by the script they run.
  const benchScript = (script: string) => (proc: ProcEntry) =>
    child("bench")(proc) && proc.cmdline().includes(path.join(repoRoot, "bench/src", script));
  return [
    { name: "web", match: child("apps/web") },
    { name: "orders-worker", match: child("apps/orders-worker") },
    { name: "payments-worker", match: child("apps/payments-worker") },
    { name: "bench driver", match: (proc) => proc.pid === process.pid },
    { name: "bullmq echo", match: benchScript("bullmq-echo.ts") },
    { name: "monolith", match: benchScript("monolith-server.ts") },
    { name: "postgres", match: (proc) => proc.comm === "postgres" },
    { name: "redis", match: (proc) => proc.comm === "redis-server" },
  ];
}

/** Resident set size in MB from /proc/PID/status (VmRSS), or null when unreadable. */
function readRssMb(pid: number): number | null {
  try {
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb === undefined ? null : Number(kb) / 1024;
  } catch {
    return null;
  }
}

/**
 * Samples the resident memory of the system's processes every `everyMs` over a phase, for each phase's
 * peak. Postgres is left out: its shared buffers count in the RSS of every backend that touched them.
 */
export function sampleRss(pids: Map<string, number>, everyMs = 250): { stop: () => Record<string, number> } {
  const peak: Record<string, number> = {};
  const sample = () => {
    for (const [name, pid] of pids) {
      const mb = readRssMb(pid);
      if (mb !== null) peak[name] = Math.max(peak[name] ?? 0, Math.round(mb));
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}

/** `counts` per group divided by `operations`, to one decimal (null without counts or operations). */
export function perOperation(
  counts: Record<string, number> | null,
  operations: number,
): Record<string, number> | null {
  if (!counts || operations <= 0) return null;
  return Object.fromEntries(
    Object.entries(counts).map(([name, n]) => [name, Math.round((n / operations) * 10) / 10]),
  );
}

/** CPU milliseconds per operation for each group of ours (not `machine`/`other`: others' load is in them). */
export function cpuMsPerOperation(
  usage: CpuUsage | null,
  seconds: number,
  operations: number,
): Record<string, number> | null {
  if (!usage || operations <= 0) return null;
  const perOp: Record<string, number> = {};
  for (const [name, cores] of Object.entries(usage)) {
    if (name === "machine" || name === "other" || name === "steal") continue;
    perOp[name] = Math.round(((cores * seconds * 1000) / operations) * 100) / 100;
  }
  return perOp;
}

/** The pids of the system's processes (this process's children, told apart by working directory). */
export function systemPids(repoRoot: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const proc of readProcs().values()) {
    if (proc.ppid !== process.pid) continue;
    const cwd = proc.cwd();
    for (const name of ["web", "orders-worker", "payments-worker"]) {
      if (cwd === path.join(repoRoot, "apps", name)) found.set(name, proc.pid);
    }
  }
  return found;
}
