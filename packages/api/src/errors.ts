import { TRPCError } from "@trpc/server";

/** Field path ("email", "items.0.amount") → what is wrong with it ("is required"). */
export type FieldErrors = Record<string, string>;

/** Attached as the cause of a TOO_MANY_REQUESTS error; the HTTP layer turns it into `Retry-After`. */
export class RetryAfter extends Error {
  constructor(readonly seconds: number) {
    super(`retry after ${seconds} s`);
    this.name = "RetryAfter";
  }
}

export function tooManyRequests(retryAfterMs: number, what = "attempts"): TRPCError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new TRPCError({
    code: "TOO_MANY_REQUESTS",
    message: `Too many ${what}; try again in ${seconds} s`,
    cause: new RetryAfter(seconds),
  });
}

export function retryAfterSecondsOf(error: unknown): number | undefined {
  return error instanceof TRPCError && error.cause instanceof RetryAfter ? error.cause.seconds : undefined;
}

type Issue = { path?: ReadonlyArray<PropertyKey | { key: PropertyKey }>; message: string };

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
  const fields: FieldErrors = {};
  for (const issue of issues as Issue[]) {
    const path = (issue.path ?? [])
      .map((segment) => String(typeof segment === "object" && segment !== null ? segment.key : segment))
      .join(".");
    const field = path === "" ? "input" : path;
    fields[field] ??= issue.message;
  }
  return fields;
}

/** "email is required; password must be at least 8 characters". */
export function describeFields(fields: FieldErrors): string {
  return Object.entries(fields)
    .map(([field, problem]) => (/^[a-z]/.test(problem) ? `${field} ${problem}` : `${field}: ${problem}`))
    .join("; ");
}
