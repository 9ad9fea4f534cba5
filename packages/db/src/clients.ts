import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient as IdentityClient } from "./generated/identity/client.ts";
import { PrismaClient as OrdersClient } from "./generated/orders/client.ts";
import { PrismaClient as PaymentsClient } from "./generated/payments/client.ts";

export { IdentityClient, OrdersClient, PaymentsClient };

/** Pool size per client; small by default since several processes share one Postgres. */
const POOL_MAX = Number(process.env.DB_POOL_MAX ?? 10);

const adapter = (connectionString: string) => new PrismaPg({ connectionString, max: POOL_MAX });

export const createOrdersClient = (url: string) => new OrdersClient({ adapter: adapter(url) });
export const createPaymentsClient = (url: string) => new PaymentsClient({ adapter: adapter(url) });
export const createIdentityClient = (url: string) => new IdentityClient({ adapter: adapter(url) });
