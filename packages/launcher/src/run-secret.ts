import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Config } from "@gozon/core/config";
import { InfraError } from "@gozon/core/infra/common";

const FILE = "jwt-secret";
const SHAPE = /^[0-9a-f]{64}$/;

/**
 * The environment of this run's processes, with a token secret of their own when development runs
 * without one. Development's other defaults are public by design (the admin's password is printed at
 * start), but the fallback secret is written in this repository: anyone who read it could sign a
 * token with any role for an instance left reachable, even one given an admin password of its own.
 *
 * The secret is random and kept in `DATA_DIR` (as the embedded Postgres and Redis are), so every
 * launcher started from this folder shares it: `PORT=3001 npm run start:web` accepts the tokens that
 * the first instance signed, and a restart keeps the signed-in browsers signed in.
 */
export function withRunSecret(
  env: NodeJS.ProcessEnv,
  config: Pick<Config, "NODE_ENV" | "DATA_DIR">,
): NodeJS.ProcessEnv {
  if (config.NODE_ENV !== "development" || env.JWT_SECRET) return env;
  return { ...env, JWT_SECRET: dataDirSecret(config.DATA_DIR) };
}

/** Reads the folder's secret, or makes it: the first of two launchers starting at once wins, whole. */
function dataDirSecret(dataDir: string): string {
  const file = path.join(dataDir, FILE);
  for (;;) {
    try {
      const secret = fs.readFileSync(file, "utf8").trim();
      if (SHAPE.test(secret)) return secret;
      throw new InfraError(`${file} is not a token secret (64 hex digits); delete it and start again`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    fs.mkdirSync(dataDir, { recursive: true });
    // Written under a name of its own, then linked into place: a launcher reading at the same moment
    // sees no file or the whole secret, never a part of it, and `link` fails if another got there first.
    const draft = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
    fs.writeFileSync(draft, randomBytes(32).toString("hex") + "\n", { mode: 0o600 });
    try {
      fs.linkSync(draft, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    } finally {
      fs.rmSync(draft, { force: true });
    }
  }
}
