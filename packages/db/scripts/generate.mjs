// Generates the three Prisma clients offline. The Prisma CLI insists on a schema-engine binary even for
// `generate`, which needs none; on a machine that cannot download it, any existing file satisfies the check.
import { spawnSync } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";

const env = {
  ...process.env,
  CHECKPOINT_DISABLE: "1",
  PRISMA_HIDE_UPDATE_MESSAGE: "1",
  PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? fileURLToPath(import.meta.url),
};
for (const service of ["orders", "payments", "identity"]) {
  const result = spawnSync("npx", ["prisma", "generate", "--schema", `prisma/${service}/schema.prisma`], {
    env,
    stdio: "inherit",
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
