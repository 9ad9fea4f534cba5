import { spawn, type ChildProcess } from "node:child_process";
import type { Logger } from "../logger.ts";

/** A problem the person starting Gozon can fix: the launcher prints its message alone, without a stack. */
export class InfraError extends Error {
  override name = "InfraError";
}

/** The URL without its password, fit for logs and error messages. */
export function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparsable URL)";
  }
}

/** Why an attempt failed, in a few words (a refused dual-stack connect is an AggregateError without message). */
export function reason(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return reason(error.errors[0]);
  const text =
    error instanceof Error ? error.message || (error as { code?: string }).code || error.name : String(error);
  return text.replace(/\.$/, ""); // it is embedded in a sentence
}

export function portFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InfraError(`${name} must be a port number between 1 and 65535 (got ${JSON.stringify(raw)})`);
  }
  return port;
}

export const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface ServerProcess {
  child: ChildProcess;
  /** Why it is not running (it could not be spawned, or exited, with its last output), else undefined. */
  failure(): string | undefined;
  spawnErrorCode(): string | undefined;
  /** Sends the stop signal, then `forceSignal` after `graceMs`; resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * Spawns a server (redis-server, postgres) in its own process group: Ctrl-C at the terminal reaches only
 * the launcher, which stops the apps first and their servers last, so the apps can drain cleanly.
 */
export function startServerProcess(
  command: string,
  args: string[],
  options: {
    uid?: number;
    gid?: number;
    log: Logger;
    label: string;
    stopSignal: NodeJS.Signals;
    forceSignal: NodeJS.Signals;
    graceMs: number;
  },
): ServerProcess {
  const { log, label, stopSignal, forceSignal, graceMs, ...ids } = options;
  const child = spawn(command, args, { ...ids, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const recent: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n").filter(Boolean)) {
      recent.push(line);
      if (recent.length > 20) recent.shift();
      log.debug({ [label]: line });
    }
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let spawnError: NodeJS.ErrnoException | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.on("error", (error) => {
      spawnError ??= error;
      if (child.pid === undefined) resolve(); // never started, so no `exit` follows
    });
  });
  // If the launcher dies without stopping it, it must not live on; `exit` listeners must be synchronous.
  const killOnExit = () => child.kill(stopSignal);
  process.on("exit", killOnExit);
  void exited.then(() => process.removeListener("exit", killOnExit));

  const gone = () => child.pid === undefined || child.exitCode !== null || child.signalCode !== null;
  let stopping: Promise<void> | undefined;
  return {
    child,
    spawnErrorCode: () => spawnError?.code,
    failure: () => {
      if (spawnError) return reason(spawnError);
      // No pid and no error yet: the spawn failed, and Node says why on a later tick (ENOENT: no such
      // program), which is what the caller must tell the user.
      if (child.pid === undefined || !gone()) return undefined;
      const status = child.exitCode !== null ? `code ${child.exitCode}` : `signal ${child.signalCode}`;
      return `exited with ${status}${recent.length ? `: ${recent.slice(-3).join(" | ")}` : ""}`;
    },
    stop: () =>
      (stopping ??= (async () => {
        if (gone()) return;
        child.kill(stopSignal);
        const timer = setTimeout(() => {
          log.warn({ graceMs }, `${label} did not stop in time; sending ${forceSignal}`);
          child.kill(forceSignal);
        }, graceMs);
        await exited;
        clearTimeout(timer);
      })()),
  };
}

/** Polls `answers` until it is true; fails when the server process fails or the deadline passes. */
export async function waitUntilAnswers(
  server: ServerProcess,
  answers: () => Promise<boolean>,
  { timeoutMs, what }: { timeoutMs: number; what: string },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const failure = server.failure();
    if (failure !== undefined) throw new InfraError(`${what} did not start: ${failure}`);
    // Without a pid nothing of ours runs (a failed spawn reports why on a later tick): whatever answers
    // is another server's.
    if (server.child.pid !== undefined && (await answers())) return;
    if (Date.now() > deadline) {
      await server.stop();
      throw new InfraError(`${what} did not answer within ${timeoutMs / 1000} s`);
    }
    await delay(100);
  }
}
