import { defineConfig } from "prisma/config";

// One config serves all three schemas: generation needs no database, so a placeholder URL keeps
// `prisma generate` working on a machine with nothing configured (Prisma's env() throws when unset).
const schema = process.env.PRISMA_SCHEMA ?? "prisma/orders/schema.prisma";

export default defineConfig({
  schema,
  datasource: { url: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres" },
});
