// Helpers for tests that drive real processes: wait for conditions with a deadline, never sleep-and-hope.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import { pino, type Logger } from "pino";

const run = promisify(execFile);

/** Polls `probe` until it returns a truthy value, or fails after `timeoutMs` with the last error seen. */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  { timeoutMs = 30_000, intervalMs = 50, what = "condition" } = {},
): Promise<NonNullable<Awaited<T>>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<Awaited<T>>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? `: ${lastError.message}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * A TCP proxy to `host:port` on a port of its own: `cut()` resets every connection through it and refuses
 * new ones until `restore()`, as when a server restarts or the network drops; `hold()` keeps what clients
 * send from reaching the server (a hung network), until the cut.
 */
export async function startTcpProxy(host: string, port: number) {
  const sockets = new Set<net.Socket>();
  let holding = false;
  let heldBytes = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(port, host);
    for (const [socket, peer] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(socket);
      socket.on("error", () => peer.destroy());
      socket.on("close", () => {
        sockets.delete(socket);
        peer.destroy();
      });
    }
    client.on("data", (chunk: Buffer) => {
      if (holding) heldBytes += chunk.length;
      else upstream.write(chunk);
    });
    upstream.pipe(client);
  });
  // With no 'error' listener a failed listen (EADDRINUSE) is an uncaught exception that ends the test run.
  const listen = (on: number) =>
    new Promise<void>((resolve, reject) => {
      const listening = () => {
        server.off("error", failed);
        resolve();
      };
      const failed = (error: Error) => {
        server.off("listening", listening);
        reject(error);
      };
      server.once("listening", listening).once("error", failed);
      server.listen(on, "127.0.0.1");
    });
  await listen(0);
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("no port");
  const cut = async () => {
    const closed = new Promise((resolve) => server.close(resolve));
    for (const socket of sockets) socket.destroy();
    await closed;
    holding = false;
  };
  return {
    port: address.port,
    /** `url` with its host and port replaced by the proxy's. */
    route(url: string) {
      const routed = new URL(url);
      routed.hostname = "127.0.0.1";
      routed.port = String(address.port);
      return routed.toString().replace(/\/$/, "");
    },
    cut,
    hold: () => void (holding = true),
    /** Bytes clients sent since `hold()` that the server never got. */
    heldBytes: () => heldBytes,
    /** Listens on the proxy's port again; rejects, saying why, when another process took it meanwhile. */
    restore: () =>
      listen(address.port).catch((error: NodeJS.ErrnoException) => {
        throw new Error(
          `the TCP proxy cannot listen on 127.0.0.1:${address.port} again (${error.code ?? error.message})` +
            (error.code === "EADDRINUSE" ? ": another process took the port while it was cut" : ""),
          { cause: error },
        );
      }),
    close: () => (server.listening ? cut() : Promise.resolve()),
  };
}

/** A port that was free a moment ago (the OS picks it). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (!address || typeof address === "string") throw new Error("no port");
  return address.port;
}

export type RunningProcess = {
  child: ChildProcess;
  output: () => string;
  waitForOutput: (pattern: RegExp, timeoutMs?: number) => Promise<void>;
  /** Sends `signal` and resolves with the exit code (or signal name) once the process is gone. */
  stop: (signal?: NodeJS.Signals, timeoutMs?: number) => Promise<number | string>;
  exited: Promise<number | string>;
};

/** Spawns a process, keeping its combined output for assertions and diagnostics. */
export function startProcess(
  command: string,
  args: string[],
  { cwd, env }: { cwd: string; env: NodeJS.ProcessEnv },
): RunningProcess {
  const child = spawn(command, args, { cwd, env: { ...env, LOG_FORMAT: "json" }, stdio: "pipe" });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  return {
    child,
    output: () => output,
    exited,
    waitForOutput: (pattern, timeoutMs = 60_000) =>
      waitFor(
        () => {
          if (child.exitCode !== null) throw new Error(`process exited early:\n${output}`);
          return pattern.test(output);
        },
        { timeoutMs, what: `${pattern} in the output of ${command} ${args.join(" ")}` },
      ).then(() => undefined),
    stop: async (signal = "SIGTERM", timeoutMs = 15_000) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** True while a process with this pid exists. */
export function isAlive(pid: number) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A logger whose JSON lines the test can inspect. */
export function capturingLogger(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines };
}

/** Direct children of a process (Linux /proc; elsewhere none are found). */
export function childPids(pid: number): number[] {
  if (!fs.existsSync("/proc")) return [];
  const found: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name may contain spaces and parentheses: fields after the last ')' are fixed.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) found.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

/** Files of a private CA and of a certificate it signed, with its key. */
export type TestCertificate = { ca: string; cert: string; key: string };

/**
 * A CA of the test's own in `dir`, and a certificate it signed for the name "localhost" alone (no
 * address in it, as a managed service's certificate names its endpoint, never an address).
 */
export async function makeLocalhostCertificate(dir: string): Promise<TestCertificate> {
  const file = (name: string) => path.join(dir, name);
  const newKey = (name: string) => ["-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${name}`];
  const ca = ["-keyout", file("ca.key"), "-out", file("ca.crt")];
  await run("openssl", ["req", "-x509", "-days", "1", ...newKey("gozon-test-ca"), ...ca]);
  await run("openssl", ["req", ...newKey("localhost"), "-keyout", file("tls.key"), "-out", file("tls.csr")]);
  fs.writeFileSync(file("san.cnf"), "subjectAltName=DNS:localhost\n");
  await run("openssl", [
    ...["x509", "-req", "-days", "1", "-in", file("tls.csr"), "-extfile", file("san.cnf")],
    ...["-CA", file("ca.crt"), "-CAkey", file("ca.key"), "-CAcreateserial", "-out", file("tls.crt")],
  ]);
  return { ca: file("ca.crt"), cert: file("tls.crt"), key: file("tls.key") };
}

export type TlsRedis = {
  port: number;
  /** redis-cli over TLS, trusting the test's CA; resolves with what it printed. */
  cli: (...args: string[]) => Promise<string>;
  stop: () => Promise<unknown>;
};

/**
 * A redis-server with its data in `dir` that speaks TLS only, on a free port, showing `certificate`
 * (clients need not show one), once it answers a PING; `args` add to its command line (cluster mode).
 */
export async function startTlsRedis(
  dir: string,
  certificate: TestCertificate,
  args: string[] = [],
): Promise<TlsRedis> {
  const port = await freePort();
  const server = startProcess(
    "redis-server",
    [
      ...["--port", "0", "--tls-port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", ""],
      ...["--tls-cert-file", certificate.cert, "--tls-key-file", certificate.key],
      ...["--tls-ca-cert-file", certificate.ca, "--tls-auth-clients", "no", ...args],
    ],
    { cwd: dir, env: process.env },
  );
  const cli = async (...command: string[]) => {
    const where = ["--tls", "--cacert", certificate.ca, "-h", "localhost", "-p", String(port)];
    return (await run("redis-cli", [...where, ...command])).stdout.trim();
  };
  try {
    await waitFor(
      async () => {
        if (server.child.exitCode !== null) throw new Error(`redis-server exited:\n${server.output()}`);
        return (await cli("PING").catch(() => "")) === "PONG";
      },
      { what: "the TLS redis-server to answer" },
    );
  } catch (error) {
    await server.stop("SIGKILL");
    throw error;
  }
  return { port, cli, stop: () => server.stop("SIGKILL") };
}
