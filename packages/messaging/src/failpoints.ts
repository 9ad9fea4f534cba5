// Failpoints: named places where a crash test can kill the process with SIGKILL.
//
// Why: the exactly-once guarantees rest on what happens when a process dies between two steps (after
// storing an inbox entry but before processing it; after publishing a job but before marking the outbox
// row sent). A test cannot hit those windows reliably from outside, so the code names them and a test
// starts the real process with `GOZON_FAILPOINTS` set. SIGKILL, not an exception: nothing runs after it
// (no finally, no rollback handler, no graceful shutdown), exactly like a power cut or an OOM kill.
//
// `GOZON_FAILPOINTS=after-process` kills at the first hit; `relay-after-add:3` at the third.
// Unset (always in production), `failpoint()` is a single map lookup and does nothing.
import { writeSync } from "node:fs";

type Armed = { remaining: number };

let armed: Map<string, Armed> | undefined;

function parse(spec: string | undefined) {
  const points = new Map<string, Armed>();
  for (const item of (spec ?? "").split(",")) {
    const [name, count] = item.trim().split(":");
    if (!name) continue;
    const hits = count === undefined ? 1 : Number(count);
    if (!Number.isInteger(hits) || hits < 1) throw new Error(`GOZON_FAILPOINTS: bad hit count in "${item}"`);
    points.set(name, { remaining: hits });
  }
  return points;
}

/** Kills this process with SIGKILL when `name` is armed in GOZON_FAILPOINTS (at its N-th hit). */
export function failpoint(name: string): void {
  armed ??= parse(process.env.GOZON_FAILPOINTS);
  const point = armed.get(name);
  if (!point || --point.remaining > 0) return;
  // Written synchronously: the test reads this line to know the process died where it meant it to.
  writeSync(2, `failpoint ${name}: SIGKILL\n`);
  process.kill(process.pid, "SIGKILL");
  // The signal is delivered asynchronously; block so that no further JavaScript runs meanwhile.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10_000);
}

/** Re-reads GOZON_FAILPOINTS (for unit tests of this module). */
export function resetFailpoints() {
  armed = undefined;
}
