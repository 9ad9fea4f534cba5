import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient as IdentityClient } from "./generated/identity/client.ts";

// Only the identity service uses a Prisma client at run time. The orders and payments services run raw
// SQL on their hot paths and use `createSqlPool` (./sql-client.ts); their Prisma schemas still define
// their tables, migrations and row types.
export { IdentityClient };

/** Pool size per client; small by default since several processes share one Postgres. */
const POOL_MAX = Number(process.env.DB_POOL_MAX ?? 10);

const adapter = (connectionString: string) => new PrismaPg({ connectionString, max: POOL_MAX });

export const createIdentityClient = (url: string) => new IdentityClient({ adapter: adapter(url) });
