// `npm start` against a Redis that speaks TLS only, its certificate from a private CA given as
// REDIS_TLS_CA: the launcher's probe and the workers it starts all trust it, even given as a path
// relative to where the launcher runs (its children run in folders of their own).
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  makeLocalhostCertificate,
  startTlsRedis,
  waitFor,
  type RunningProcess,
  type TestCertificate,
  type TlsRedis,
} from "@gozon/core/testing";
import { createTestDatabases, type TestDatabases } from "@gozon/db/testing";
import { repoRoot, startLauncher } from "./launch.ts";

describe("launcher with REDIS_TLS_CA", () => {
  // Its keys go with the server: a redis-server of this test's own, removed with its folder.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gozon-launcher-tls-"));
  let certificate: TestCertificate;
  let redis: TlsRedis;
  let dbs: TestDatabases;
  let launcher: RunningProcess | undefined;
  beforeAll(async () => {
    certificate = await makeLocalhostCertificate(dir);
    redis = await startTlsRedis(dir, certificate);
    dbs = await createTestDatabases("launcher_tls");
  });
  afterAll(async () => {
    await launcher?.stop("SIGKILL");
    await dbs?.drop();
    await redis?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("runs a worker on a rediss:// Redis, the CA given as a relative path", async () => {
    launcher = startLauncher("orders-worker", dbs.urls, {
      REDIS_URL: `rediss://localhost:${redis.port}`,
      REDIS_TLS_CA: path.relative(repoRoot, certificate.ca),
      REDIS_PREFIX: `test-launch-${randomBytes(4).toString("hex")}`,
      METRICS_PORT: "0",
    });
    // A child that cannot read the CA stops at its config and is restarted again and again, and the
    // launcher itself exits when its probe fails: either ends the wait as surely as the worker's readiness.
    const outcome = await waitFor(
      () =>
        launcher!.child.exitCode !== null
          ? "the launcher exited"
          : /orders worker ready|Invalid configuration/.exec(launcher!.output())?.[0],
      { what: "the orders worker ready, or a failure", timeoutMs: 90_000 },
    );
    expect(outcome, launcher.output()).toBe("orders worker ready");
    await launcher.stop("SIGTERM", 30_000);
  }, 150_000);
});
