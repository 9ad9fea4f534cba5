import { randomBytes } from "node:crypto";
import type { Config } from "@gozon/core/config";

/**
 * The environment of this run's processes, with a token secret of their own when development runs
 * without one. Development's other defaults are public by design (the admin's password is printed at
 * start), but the fallback secret is written in this repository: anyone who read it could sign a
 * token with any role for an instance left reachable, even one given an admin password of its own.
 * A random secret shared by this run's processes closes that. Nothing is lost at a restart: the
 * browser trades its refresh token (kept in the database) for a new access token.
 */
export function withRunSecret(env: NodeJS.ProcessEnv, config: Pick<Config, "NODE_ENV">): NodeJS.ProcessEnv {
  if (config.NODE_ENV !== "development" || env.JWT_SECRET) return env;
  return { ...env, JWT_SECRET: randomBytes(32).toString("hex") };
}
