// Reference (c), the server: what a user would build instead of the saga. One Node process whose
// `POST /api/v1/orders` verifies the JWT and validates the body with the product's own code
// (createAccessTokens, createInputSchema), then does the whole business effect in ONE transaction on one
// database that holds both services' tables (schemas `orders` and `payments`, made by their migrations):
// the order and its change-log row, the debit and its ledger entry (the payments service's conditional
// update), the settle and its change-log row. The answer is the settled order. Plain node:http and pg.
// Started by monolith-reference.ts; not part of the product.
// With FLOOR_BULL_PREFIX it also serves the floor (floor-reference.ts): an order sent with
// `x-bench-floor: 1` is, after its transaction, put on the BullMQ reference's request queue before the
// answer (as the web hands the saga's request to BullMQ before it answers); the echo worker's reply comes
// back on the floor's reply queue, consumed here, and its order id goes out over the WebSocket at
// `/floor` (as the orders worker's settle reaches the admin's feed).
import http from "node:http";
import { Queue, Worker } from "bullmq";
import pg from "pg";
import { WebSocketServer } from "ws";
import { loadRedisTarget } from "@gozon/core/config";
import { createRedisConnection, defaultJobOptions } from "@gozon/messaging/queues";
import { createAccessTokens } from "@gozon/api/identity/tokens";
import { createInputSchema } from "@gozon/api/routers/orders/create.schema";
import { fieldErrors, orderFromRow, settleStatus, type SettledRow } from "./monolith-order.ts";

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const MAX_BODY_BYTES = 64 * 1024;
const tokens = createAccessTokens({
  secret: env("MONOLITH_JWT_SECRET"),
  ttlSeconds: 900,
  now: () => new Date(),
});
const pool = new pg.Pool({
  connectionString: env("MONOLITH_DATABASE_URL"),
  max: Number(env("MONOLITH_POOL_MAX")),
  // The orders tables' trigger names its table unqualified, as the orders service's own database has it.
  options: "-c search_path=orders",
});

type Reply = { status: number; body: unknown };
const problem = (status: number, code: string, message: string, fields?: Record<string, string>): Reply => ({
  status,
  body: { error: { code, message, ...(fields ? { fields } : {}) } },
});

/** The payments service's debit (as `decide_payments` charges one order), on the `payments` schema. */
const DEBIT = `
  WITH debited AS (
    UPDATE payments.accounts SET balance = balance - $2::bigint, updated_at = now()
    WHERE user_id = $1::uuid AND balance >= $2::bigint
    RETURNING user_id, balance
  ), entry AS (
    INSERT INTO payments.ledger_entries (user_id, kind, amount, order_id, balance_after)
    SELECT user_id, 'ORDER_DEBIT'::payments."LedgerKind", -($2::bigint), $3::uuid, balance FROM debited
  )
  SELECT EXISTS (SELECT 1 FROM debited) AS debited,
         EXISTS (SELECT 1 FROM payments.accounts WHERE user_id = $1::uuid) AS "hasAccount"`;

/** The orders service's create (createOrder, without the outbox row): the order and its NEW change. */
const CREATE = `
  WITH created AS (
    INSERT INTO orders.orders (id, user_id, amount, description, updated_at)
    VALUES (gen_random_uuid(), $1::uuid, $2::bigint, $3, now())
    RETURNING *
  ), logged AS (
    INSERT INTO orders.order_changes (order_id, user_id, status, at)
    SELECT id, user_id, status, created_at FROM created
  )
  SELECT id::text FROM created`;

/** The orders service's settle (settleOrder): NEW → FINISHED/CANCELLED and its change-log row. */
const SETTLE = `
  WITH settled AS (
    UPDATE orders.orders
    SET status = $2::orders."OrderStatus", cancel_reason = $3::orders."CancelReason", updated_at = now()
    WHERE id = $1::uuid AND status = 'NEW'
    RETURNING *
  ), logged AS (
    INSERT INTO orders.order_changes (order_id, user_id, status, cancel_reason, at)
    SELECT id, user_id, status, cancel_reason, updated_at FROM settled
  )
  SELECT id::text, user_id::text, amount, description, status::text, cancel_reason::text, created_at, updated_at
  FROM settled`;

async function placeOrder(userId: string, amount: number, description: string) {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const created = await client.query<{ id: string }>(CREATE, [userId, amount, description]);
    const orderId = created.rows[0]!.id;
    const debit = await client.query<{ debited: boolean; hasAccount: boolean }>(DEBIT, [
      userId,
      amount,
      orderId,
    ]);
    const { status, reason } = settleStatus(debit.rows[0]!);
    const settled = await client.query<SettledRow>(SETTLE, [orderId, status, reason]);
    await client.query("COMMIT");
    return orderFromRow(settled.rows[0]!);
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

async function readBody(req: http.IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

type FloorHops = { send: (orderId: string) => Promise<void>; close: () => Promise<void> };

/**
 * The floor's two hops and its push, when FLOOR_BULL_PREFIX is set, on the environment's Redis (REDIS_URL,
 * REDIS_PASSWORD, REDIS_TLS_CA, as the bench reaches it); resolves once they can serve.
 */
async function startFloorHops(server: http.Server): Promise<FloorHops | null> {
  if (!process.env.FLOOR_BULL_PREFIX) return null;
  const connection = createRedisConnection(loadRedisTarget(), "bench-floor");
  const prefix = env("FLOOR_BULL_PREFIX");
  const requests = new Queue(env("FLOOR_QUEUE_REQUESTS"), { connection, prefix, defaultJobOptions });
  const sockets = new WebSocketServer({ server, path: "/floor" });
  const replies = new Worker(
    env("FLOOR_QUEUE_REPLIES"),
    async (job) => {
      const { id } = job.data as { id: string };
      for (const socket of sockets.clients) socket.send(id);
    },
    { connection, prefix, concurrency: Number(env("FLOOR_REPLY_CONCURRENCY")) },
  );
  await replies.waitUntilReady();
  return {
    send: async (orderId) => {
      await requests.add("floor", { id: orderId }, { jobId: orderId });
    },
    close: async () => {
      sockets.close();
      await Promise.all([replies.close(), requests.close()]);
      connection.disconnect();
    },
  };
}

async function handle(req: http.IncomingMessage): Promise<Reply> {
  if (req.method !== "POST" || req.url !== "/api/v1/orders") {
    return problem(404, "NOT_FOUND", `No such endpoint: ${req.method} ${req.url}`);
  }
  const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
  const check = bearer ? await tokens.verify(bearer) : null;
  if (!check?.ok) return problem(401, "UNAUTHORIZED", "A valid access token is required");
  const text = await readBody(req);
  if (text === null)
    return problem(413, "PAYLOAD_TOO_LARGE", `The body is larger than ${MAX_BODY_BYTES} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return problem(400, "PARSE_ERROR", "The request body is not valid JSON");
  }
  const input = createInputSchema.safeParse(json);
  if (!input.success) {
    const fields = fieldErrors(input.error.issues);
    return problem(400, "BAD_REQUEST", `Invalid input: ${Object.keys(fields).join(", ")}`, fields);
  }
  const order = await placeOrder(check.caller.id, input.data.amount, input.data.description);
  if (floor && req.headers["x-bench-floor"] === "1") await floor.send(order.id);
  return { status: 201, body: { order } };
}

let errorsLogged = 0;
const server = http.createServer((req, res) => {
  handle(req)
    .catch((error: unknown) => {
      // Logged a few times only: the bench keeps this process's output in memory.
      if (errorsLogged++ < 5) console.error("monolith: request failed", error);
      return problem(500, "INTERNAL_SERVER_ERROR", "Something went wrong");
    })
    .then(({ status, body }) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    });
});
server.keepAliveTimeout = 60_000;
const floor = await startFloorHops(server);
server.listen(0, "127.0.0.1", () => {
  const address = server.address() as { port: number };
  console.log(`monolith listening on http://127.0.0.1:${address.port}`);
});
process.once("SIGTERM", () => {
  server.close();
  server.closeAllConnections();
  void Promise.all([pool.end(), floor?.close()]).finally(() => process.exit(0));
});
