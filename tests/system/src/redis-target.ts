// The environment's Redis for the runs that start the system themselves (the bench, `npm run overload`,
// the system tests), read by the product's own parsing (`loadRedisTarget`): the run's own connections then
// reach it with REDIS_PASSWORD and REDIS_TLS_CA exactly as the system's processes do.
import path from "node:path";
import { loadRedisTarget, REDIS_VARIABLES, type RedisSettings } from "@gozon/core/config";
import { isClusterTarget } from "@gozon/core/infra/redis-client";

export type RedisVariables = Partial<Record<(typeof REDIS_VARIABLES)[number], string>>;

/**
 * The environment's Redis, for a run that works on one Redis node only (`what` names the run in the
 * message). REDIS_CLUSTER_NODES is refused: it would win in the system's processes while the run's own
 * connections and proxies went to REDIS_URL. So is REDIS_URL=embedded, which only `npm start` resolves.
 */
export function singleNodeRedis(what: string, env: NodeJS.ProcessEnv = process.env): RedisSettings {
  const target = loadRedisTarget(env);
  if (isClusterTarget(target)) {
    throw new Error(`${what} runs on a single Redis node: unset REDIS_CLUSTER_NODES and set REDIS_URL`);
  }
  if (target.REDIS_URL === "embedded") {
    throw new Error(`${what} needs a running Redis: set REDIS_URL to its redis:// URL (not embedded)`);
  }
  return target;
}

/**
 * The environment's Redis variables as a child process is to get them: REDIS_TLS_CA as an absolute path,
 * since the child may run in another folder (the launcher does the same for its children).
 */
export function redisVariables(env: NodeJS.ProcessEnv = process.env): RedisVariables {
  const variables: RedisVariables = {};
  for (const name of REDIS_VARIABLES) {
    const value = env[name];
    if (value !== undefined) variables[name] = value;
  }
  const caFile = variables.REDIS_TLS_CA?.trim();
  if (caFile) variables.REDIS_TLS_CA = path.resolve(caFile);
  return variables;
}

/** `env` without its Redis variables: for a child that is given its Redis variables one by one. */
export function withoutRedisVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const rest = { ...env };
  for (const name of REDIS_VARIABLES) delete rest[name];
  return rest;
}
