import { TRPCError } from "@trpc/server";

/** Field path ("email", "items.0.amount") → what is wrong with it ("is required"). */
export type FieldErrors = Record<string, string>;

/**
 * Attached as the cause of a TOO_MANY_REQUESTS or SERVICE_UNAVAILABLE error; the HTTP layer turns it
 * into `Retry-After`.
 */
export class RetryAfter extends Error {
  constructor(
    readonly seconds: number,
    options?: ErrorOptions,
  ) {
    super(`retry after ${seconds} s`, options);
    this.name = "RetryAfter";
  }
}

/** A wait as people say it: "45 seconds", "1 minute", "15 minutes" (minutes rounded up). */
export function waitText(seconds: number): string {
  if (seconds < 60) return seconds === 1 ? "1 second" : `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? "1 minute" : `${minutes} minutes`;
}

export function tooManyRequests(retryAfterMs: number, what = "attempts"): TRPCError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new TRPCError({
    code: "TOO_MANY_REQUESTS",
    // Exact seconds travel in Retry-After and `retryAfterSeconds`; the message is for people.
    message: `Too many ${what}; try again in ${waitText(seconds)}`,
    cause: new RetryAfter(seconds),
  });
}

/** A brief outage (a restart, a failover, a full pool) is usually over by then. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 2;

/** 503 with `Retry-After`; `cause` (the database error) is kept for the log, never sent. */
export function serviceUnavailable(cause?: unknown): TRPCError {
  const seconds = UNAVAILABLE_RETRY_AFTER_SECONDS;
  return new TRPCError({
    code: "SERVICE_UNAVAILABLE",
    message: `The service is temporarily unavailable; try again in ${waitText(seconds)}`,
    cause: new RetryAfter(seconds, { cause }),
  });
}

// What Prisma 7 with @prisma/adapter-pg throws when Postgres is down, cut off or out of capacity (each
// seen here by reproducing it): Prisma's codes; the adapter's error kinds, under whatever code Prisma
// gives them (P2010, P2039…); and pg's own errors, which the adapter passes through as they are.
const UNAVAILABLE_CODES = new Set([
  // Prisma: unreachable, timed out, connection closed, pool timeout, and a transaction that could not
  // start in time or outlived its timeout.
  ...["P1001", "P1002", "P1008", "P1017", "P2024", "P2028"],
  // Node's sockets.
  ...["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH"],
]);
const UNAVAILABLE_ADAPTER_KINDS = new Set([
  "DatabaseNotReachable",
  "ConnectionClosed",
  "SocketTimeout",
  "TooManyConnections",
]);
/**
 * SQLSTATE: connection exceptions, shutdown or startup in progress, too many connections, and a statement
 * cancelled by `statement_timeout` (the database is too busy to answer in time).
 */
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[1-3]|57014|53300)$/;
const UNAVAILABLE_PG_MESSAGE =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed)/;

type MaybeDbError = {
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  meta?: { driverAdapterError?: { cause?: { kind?: unknown; originalCode?: unknown } } };
};

/**
 * Whether `error`, or an error it was caused by, says the database cannot be reached or cannot take the
 * work now: worth a retry by the client, unlike a bug or a constraint violation.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const { code, message, meta, cause } = current as MaybeDbError;
    const adapter = meta?.driverAdapterError?.cause;
    if (typeof code === "string" && UNAVAILABLE_CODES.has(code)) return true;
    if (UNAVAILABLE_ADAPTER_KINDS.has(String(adapter?.kind))) return true;
    if (UNAVAILABLE_SQLSTATE.test(String(adapter?.originalCode ?? code))) return true;
    if (typeof message === "string" && UNAVAILABLE_PG_MESSAGE.test(message)) return true;
    current = cause;
  }
  return false;
}

export function retryAfterSecondsOf(error: unknown): number | undefined {
  return error instanceof TRPCError && error.cause instanceof RetryAfter ? error.cause.seconds : undefined;
}

type Issue = {
  code?: string;
  path?: ReadonlyArray<PropertyKey | { key: PropertyKey }>;
  message: string;
  /** zod's `unrecognized_keys`: the fields a strict object does not know. */
  keys?: readonly string[];
};

export const UNKNOWN_FIELD = "is not a known field";

/**
 * The cause of an input error found by a handler rather than by the input schema (a header, a rule
 * spanning two fields): it carries `issues` like a schema failure, so the response names the fields alike.
 */
export class FieldProblems extends Error {
  readonly issues: Issue[];
  constructor(fields: FieldErrors) {
    super(describeFields(fields));
    this.name = "FieldProblems";
    this.issues = Object.entries(fields).map(([field, message]) => ({ path: [field], message }));
  }
}

/** 400 naming the fields at fault, e.g. `invalidInput({ "Idempotency-Key": "must be …" })`. */
export function invalidInput(fields: FieldErrors): TRPCError {
  return new TRPCError({
    code: "BAD_REQUEST",
    message: describeFields(fields),
    cause: new FieldProblems(fields),
  });
}

/** 422: well-formed input that cannot be processed (e.g. an Idempotency-Key reused with another body). */
export function unprocessable(message: string, fields: FieldErrors): TRPCError {
  return new TRPCError({ code: "UNPROCESSABLE_CONTENT", message, cause: new FieldProblems(fields) });
}

/**
 * The fields at fault when `error` is an input validation failure (zod or any standard schema, or
 * FieldProblems) or an unprocessable request.
 */
export function fieldErrorsOf(error: TRPCError): FieldErrors | undefined {
  if (error.code !== "BAD_REQUEST" && error.code !== "UNPROCESSABLE_CONTENT") return undefined;
  const issues = (error.cause as { issues?: unknown } | undefined)?.issues;
  if (!Array.isArray(issues) || issues.length === 0) return undefined;
  // A Map, not a plain object: a field may be called `constructor` or `__proto__`.
  const fields = new Map<string, string>();
  const add = (field: string, message: string) => {
    if (!fields.has(field)) fields.set(field, message);
  };
  for (const issue of issues as Issue[]) {
    const path = (issue.path ?? []).map((segment) =>
      String(typeof segment === "object" && segment !== null ? segment.key : segment),
    );
    // Each unknown field is named on its own (a typo such as `amout` must be visible to the caller).
    if (issue.code === "unrecognized_keys" && Array.isArray(issue.keys)) {
      for (const key of issue.keys) add([...path, key].join("."), UNKNOWN_FIELD);
      continue;
    }
    add(path.length === 0 ? "input" : path.join("."), issue.message);
  }
  // fromEntries defines own properties, so even `__proto__` becomes a plain key.
  return Object.fromEntries(fields);
}

/** "email is required; password must be at least 8 characters". */
export function describeFields(fields: FieldErrors): string {
  return Object.entries(fields)
    .map(([field, problem]) => (/^[a-z]/.test(problem) ? `${field} ${problem}` : `${field}: ${problem}`))
    .join("; ");
}
