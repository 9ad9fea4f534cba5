import { PrismaPg } from "@prisma/adapter-pg";
import type pg from "pg";
import { PrismaClient as IdentityClient } from "./generated/identity/client.ts";
import { PrismaClient as OrdersClient } from "./generated/orders/client.ts";
import { PrismaClient as PaymentsClient } from "./generated/payments/client.ts";
import { poolMaxFromEnv } from "./pool-size.ts";

// Identity runs on Prisma's client. The orders and payments services run raw SQL on their hot paths
// (`createSqlPool`, ./sql-client.ts); their outbox relays claim through these clients, built over the
// pool of that same `createSqlPool` so that one `pg.Pool` per database serves both.
export { IdentityClient, OrdersClient, PaymentsClient };

const adapter = (connectionString: string) => new PrismaPg({ connectionString, max: poolMaxFromEnv() });

export const createIdentityClient = (url: string) => new IdentityClient({ adapter: adapter(url) });

// `PrismaPg` takes an existing pool and leaves it open on `$disconnect()` (no `disposeExternalPool`): its
// owner, the `SqlPool`, ends it.
export const createOrdersClient = (pool: pg.Pool) => new OrdersClient({ adapter: new PrismaPg(pool) });
export const createPaymentsClient = (pool: pg.Pool) => new PaymentsClient({ adapter: new PrismaPg(pool) });
