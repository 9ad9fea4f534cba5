import { spawn, type ChildProcess } from "node:child_process";
import type { Logger } from "@gozon/core/logger";

export interface ChildSpec {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface SupervisorOptions {
  /** First restart delay; it doubles on each crash up to `maxBackoffMs`. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** A child that stayed up this long is considered healthy again: its backoff starts over. */
  stableMs?: number;
  /** How long `stop()` waits after SIGTERM before SIGKILL. */
  graceMs?: number;
}

export interface Supervisor {
  /** Pids of the children running now, by name. */
  pids(): Record<string, number | undefined>;
  /** SIGTERM to every child, SIGKILL after the grace period; resolves once all are gone. */
  stop(): Promise<void>;
}

interface Slot {
  spec: ChildSpec;
  child?: ChildProcess;
  exited?: Promise<void>;
  startedAt: number;
  backoffMs: number;
  restartTimer?: NodeJS.Timeout;
}

/** Runs the children, restarting any that exits (with backoff) until `stop()`. */
export function supervise(specs: ChildSpec[], log: Logger, options: SupervisorOptions = {}): Supervisor {
  const { minBackoffMs = 500, maxBackoffMs = 30_000, stableMs = 30_000, graceMs = 10_000 } = options;
  let stopping: Promise<void> | undefined;
  const slots: Slot[] = specs.map((spec) => ({ spec, startedAt: 0, backoffMs: minBackoffMs }));

  const start = (slot: Slot) => {
    const { name, command, args, env, cwd } = slot.spec;
    // Output goes straight to the terminal: children format their own logs (pretty on a TTY, JSON otherwise).
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "inherit", "inherit"] });
    slot.child = child;
    slot.startedAt = Date.now();
    let settled = false;
    slot.exited = new Promise((resolve) => {
      const settle = (code: number | null, signal: NodeJS.Signals | null, error?: Error) => {
        if (settled) return;
        settled = true;
        slot.child = undefined;
        resolve();
        if (stopping) return;
        const uptimeMs = Date.now() - slot.startedAt;
        if (uptimeMs >= stableMs) slot.backoffMs = minBackoffMs;
        const restartInMs = slot.backoffMs;
        slot.backoffMs = Math.min(slot.backoffMs * 2, maxBackoffMs);
        log.warn(
          { child: name, code, signal, err: error, uptimeMs, restartInMs },
          `${name} exited unexpectedly; restarting in ${restartInMs} ms`,
        );
        slot.restartTimer = setTimeout(() => start(slot), restartInMs);
      };
      child.once("exit", (code, signal) => settle(code, signal));
      // A child that could not be spawned at all (missing command or folder) emits no `exit`.
      child.on("error", (error) => {
        if (child.pid === undefined) settle(null, null, error);
      });
    });
    if (child.pid !== undefined) log.info({ child: name, pid: child.pid }, `${name} started`);
  };

  // If the launcher itself dies, its children must not live on; `exit` listeners must be synchronous.
  const killAll = () => slots.forEach((slot) => slot.child?.kill("SIGKILL"));
  process.on("exit", killAll);
  slots.forEach(start);

  const stopSlot = async (slot: Slot) => {
    clearTimeout(slot.restartTimer);
    const child = slot.child;
    if (!child) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => {
      log.warn({ child: slot.spec.name, graceMs }, `${slot.spec.name} ignored SIGTERM; killing it`);
      child.kill("SIGKILL");
    }, graceMs);
    await slot.exited;
    clearTimeout(timer);
  };

  return {
    pids: () => Object.fromEntries(slots.map((slot) => [slot.spec.name, slot.child?.pid])),
    stop: () =>
      (stopping ??= (async () => {
        await Promise.all(slots.map(stopSlot));
        process.removeListener("exit", killAll);
      })()),
  };
}
