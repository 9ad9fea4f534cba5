// The launcher as the tests run it: `npm start --only <process>` from the repository's root, with the
// three databases named and JSON logs, over whatever else `env` sets (Redis, ports, prefixes).
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startProcess } from "@gozon/core/testing";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

export function startLauncher(
  only: "web" | "orders-worker" | "payments-worker",
  databases: { orders: string; payments: string; identity: string },
  env: NodeJS.ProcessEnv,
) {
  return startProcess(
    process.execPath,
    ["--import", "tsx", "packages/launcher/src/main.ts", "--only", only],
    {
      cwd: repoRoot,
      env: {
        ...process.env,
        ORDERS_DATABASE_URL: databases.orders,
        PAYMENTS_DATABASE_URL: databases.payments,
        IDENTITY_DATABASE_URL: databases.identity,
        LOG_FORMAT: "json",
        ...env,
      },
    },
  );
}
