import { pino, type Logger } from "pino";

export type { Logger };

// Secrets never reach a log line, whatever object a caller passes in.
const redact = {
  paths: [
    "password",
    "passwordHash",
    "*.password",
    "*.passwordHash",
    "accessToken",
    "refreshToken",
    "*.accessToken",
    "*.refreshToken",
    "req.headers.authorization",
    "req.headers.cookie",
    "headers.authorization",
    "headers.cookie",
  ],
  censor: "[redacted]",
};

/** JSON lines when stdout is not a terminal (CI, containers), pretty output for a person at a terminal. */
export function createLogger(name: string, level = process.env.LOG_LEVEL ?? "info"): Logger {
  const pretty = process.stdout.isTTY && process.env.LOG_FORMAT !== "json";
  return pino({
    name,
    level,
    redact,
    ...(pretty
      ? { transport: { target: "pino-pretty", options: { colorize: true, ignore: "pid,hostname" } } }
      : {}),
  });
}
