import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Config } from "@gozon/core/config";
import { InfraError } from "@gozon/core/infra/common";

/** Each secret a development run makes for itself, and the file in DATA_DIR it is kept in. */
const SECRETS = { JWT_SECRET: "jwt-secret", MESSAGE_SIGNING_KEY: "message-signing-key" } as const;
const SHAPE = /^[0-9a-f]{64}$/;

/**
 * The environment of this run's processes, with a token secret of their own when development runs
 * without one, and a message signing key of their own likewise (MESSAGE_SIGNING_KEY: the fallback key
 * is written in this repository too, and with it anyone who can write to Redis could sign a message). Development's other defaults are public by design (the admin's password is printed at
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
  if (config.NODE_ENV !== "development") return env;
  const made: NodeJS.ProcessEnv = {};
  for (const [name, file] of Object.entries(SECRETS)) {
    if (!env[name]) made[name] = dataDirSecret(config.DATA_DIR, file);
  }
  return { ...env, ...made };
}

/**
 * Reads the folder's secret, or makes it: the first of two launchers starting at once wins, whole. The
 * file must be this user's own, a regular file only they can read: a secret that someone else could
 * have written (a shared /tmp folder, say) would let them sign tokens with any role.
 */
function dataDirSecret(dataDir: string, name: string): string {
  const file = path.join(dataDir, name);
  for (let attempt = 0; attempt < 3; attempt++) {
    const secret = readOwnSecret(file);
    if (secret !== undefined) return secret;
    fs.mkdirSync(dataDir, { recursive: true });
    // Written under a name of its own, then linked into place: a launcher reading at the same moment
    // sees no file or the whole secret, never a part of it, and `link` fails if another got there first.
    const draft = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
    fs.writeFileSync(draft, randomBytes(32).toString("hex") + "\n", { mode: 0o600, flag: "wx" });
    try {
      fs.linkSync(draft, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    } finally {
      fs.rmSync(draft, { force: true });
    }
  }
  throw new InfraError(`${file}: cannot be read or made (a dangling link?); delete it and start again`);
}

/** The secret in `file`, or undefined when there is no file; anything else that is not one throws. */
function readOwnSecret(file: string): string | undefined {
  let fd: number;
  try {
    // O_NOFOLLOW: a link is refused (ELOOP), never followed to a file someone else chose.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    if (code === "ELOOP") throw new InfraError(`${file} is a link; delete it and start again`);
    throw error;
  }
  try {
    const stat = fs.fstatSync(fd);
    const mine = process.getuid === undefined || stat.uid === process.getuid();
    if (!stat.isFile() || !mine || (stat.mode & 0o077) !== 0) {
      throw new InfraError(
        `${file} must be a file of your own that only you can read (mode 600); delete it and start again`,
      );
    }
    const secret = fs.readFileSync(fd, "utf8").trim();
    if (!SHAPE.test(secret)) {
      throw new InfraError(`${file} is not a token secret (64 hex digits); delete it and start again`);
    }
    return secret;
  } finally {
    fs.closeSync(fd);
  }
}
