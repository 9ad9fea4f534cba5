import type { CpuBreakdown } from "./cpu-profile.ts";
import type { LoopResult } from "./loop.ts";
import type { CpuUsage, MachineInfo } from "./machine.ts";
import type { HopProfile } from "./profile.ts";
import type { SagaResult } from "./saga.ts";
import type { CostVsMax, Targets } from "./targets.ts";

export type SagaSummary = Omit<SagaResult, "samples">;

/** A reference run open loop at the saga's half-load rate: what the same arrivals cost without the saga. */
export type HalfLoadReference = LoopResult & {
  offeredRate: number;
  /** CPU ms per operation of every process of ours in the run, the driver too (it holds one end). */
  cpuMsPerOp: Record<string, number> | null;
  sleepsPerOp: Record<string, number> | null;
  /** Ms per operation that each process's threads were ready to run but waited for a core; older runs lack it. */
  waitMsPerOp?: Record<string, number> | null;
};

export type LevelReport = {
  concurrency: number;
  saga: SagaSummary;
  syncTx: LoopResult;
  /** The monolith reference: orders placed and settled over HTTP, one transaction each. */
  monolith: LoopResult;
  bullmq: LoopResult;
  ratios: {
    sagaToMonolithThroughput: number;
    sagaToSyncThroughput: number;
    sagaToBullmqThroughput: number;
    sagaP50ToBullmqP50: number;
    sagaP99ToBullmqP99: number;
    sagaP99ToSyncP99: number;
  };
  cpu: {
    saga: CpuUsage | null;
    syncTx: CpuUsage | null;
    monolith: CpuUsage | null;
    bullmq: CpuUsage | null;
    sagaMsPerOrder: Record<string, number> | null;
    syncMsPerTx: Record<string, number> | null;
    monolithMsPerOrder: Record<string, number> | null;
    /** System calls (read + write class, /proc/PID/io) per settled order, by process group. */
    sagaSyscallsPerOrder: Record<string, number> | null;
    monolithSyscallsPerOrder: Record<string, number> | null;
    /** Threads put to sleep per order (voluntary context switches), per process group; older runs lack it. */
    sagaSleepsPerOrder?: Record<string, number> | null;
    monolithSleepsPerOrder?: Record<string, number> | null;
  };
  /** Peak resident memory in MB of each of the system's processes (and the driver) during the saga run. */
  sagaPeakRssMb?: Record<string, number>;
};

export type BenchReport = {
  version: 1;
  date: string;
  startedAt: string;
  finishedAt: string;
  wallSeconds: number;
  machine: MachineInfo;
  /** The machine before the bench started anything: others may be running tests on it too. */
  background: {
    cpu: CpuUsage | null;
    loadavg: number[];
    /** Mean cores used by processes that are not part of the bench during the saga runs. */
    otherDuringSaga: number | null;
    /** Mean cores the hypervisor held back (steal) during the saga runs: the host was busy elsewhere. */
    stealDuringSaga: number | null;
  };
  settings: Record<string, unknown>;
  levels: LevelReport[];
  maxSustained: {
    throughput: number;
    concurrency: number;
    syncThroughput: number;
    syncConcurrency: number;
    monolithThroughput: number;
    monolithConcurrency: number;
  };
  halfLoad:
    | (SagaSummary & {
        cpu: CpuUsage | null;
        cpuMsPerOrder: Record<string, number> | null;
        syscallsPerOrder: Record<string, number> | null;
        sleepsPerOrder?: Record<string, number> | null;
        /** Ms per order that each process's threads waited for a core (schedstat); older runs lack it. */
        waitMsPerOrder?: Record<string, number> | null;
        peakRssMb?: Record<string, number>;
        /**
         * The monolith, the bare BullMQ round trip and the floor (floor-reference.ts) at the same offered
         * rate; older runs lack them, or the floor.
         */
        references?: { monolith: HalfLoadReference; bullmq: HalfLoadReference; floor?: HalfLoadReference };
        /** This run's CPU per order against that at the max sustained level (targets.ts); older runs lack it. */
        costVsMax?: CostVsMax | null;
      })
    | null;
  targets: Targets;
  profile: {
    hops: ReadonlyArray<{ key: string; label: string; detail: string }>;
    phases: Array<{ phase: string; profile: HopProfile }>;
  };
  /**
   * With --cpu-profile: where each process's CPU went during the highest level's saga run and, in runs
   * saved since it was added, during the half-load run (`orders` settled in each window).
   */
  cpuProfile?: {
    concurrency: number;
    orders?: number;
    processes: CpuBreakdown[];
    halfLoad?: { orders: number; processes: CpuBreakdown[] } | null;
  } | null;
  audit: { violations: string[]; orders: Record<string, number> };
};
