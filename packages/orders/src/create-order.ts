import { randomUUID } from "node:crypto";
import { idempotent } from "@gozon/db/idempotency";
import { buildMessage } from "@gozon/messaging/contracts";
import { groupCommit } from "@gozon/messaging/group-commit";
import { graceSeconds, outboxRow } from "@gozon/messaging/outbox";
import type { PaymentRequested } from "@gozon/messaging/contracts";
import type { SqlClient, TransactionalSqlClient } from "@gozon/messaging/sql";
import { toOrderDto, type OrderDto } from "./order-dto.ts";
import { orderFromRow, type OrderRow } from "./order-row.ts";

export type CreateOrderInput = { userId: string; amount: number; description: string };

type PublishRequest = (request: PaymentRequested) => Promise<void>;

/** An order about to be inserted: its id and its payment request are chosen before the statement. */
type NewOrder = { input: CreateOrderInput; orderId: string; request: PaymentRequested };

function newOrder(input: CreateOrderInput): NewOrder {
  const orderId = randomUUID();
  const request = buildMessage("PaymentRequested", { orderId, userId: input.userId, amount: input.amount });
  return { input, orderId, request };
}

/**
 * Orders (NEW), their first change-log rows and their requests' outbox rows, all in one statement: atomic
 * on its own, so it needs no BEGIN and COMMIT (one round trip, not four), whether it inserts one order or
 * a group. Returns the orders in the order given.
 */
async function insertOrders(db: SqlClient, orders: NewOrder[], direct: boolean): Promise<OrderDto[]> {
  const outbox = orders.map((o) => outboxRow(o.request, { direct }));
  const rows = await db.$queryRaw<OrderRow[]>`
    WITH input AS (
      SELECT * FROM unnest(${orders.map((o) => o.orderId)}::uuid[], ${orders.map((o) => o.input.userId)}::uuid[],
                           ${orders.map((o) => BigInt(o.input.amount))}::bigint[],
                           ${orders.map((o) => o.input.description)}::text[],
                           ${orders.map((o) => o.request.messageId)}::uuid[], ${outbox.map((r) => r.queue)}::text[],
                           ${outbox.map((r) => r.type)}::text[], ${outbox.map((r) => r.payload)}::jsonb[])
        AS i(id, user_id, amount, description, request_id, queue, type, payload)
    ), created AS (
      INSERT INTO orders (id, user_id, amount, description, payment_request_id, updated_at)
      SELECT id, user_id, amount, description, request_id, now() FROM input
      RETURNING *
    ), logged AS (
      INSERT INTO order_changes (order_id, user_id, status, at)
      SELECT id, user_id, status, created_at FROM created
    ), queued AS (
      INSERT INTO outbox (id, queue, type, payload, relay_after)
      SELECT request_id, queue, type, payload,
             now() + make_interval(secs => ${graceSeconds(direct)}::float8)
      FROM input
    )
    SELECT * FROM created`;
  const byId = new Map(rows.map((row) => [row.id, row]));
  return orders.map((o) => toOrderDto(orderFromRow(byId.get(o.orderId)!)));
}

/**
 * Places one order: the order (NEW), its change-log row and its PaymentRequested outbox row commit
 * together, or none does: the request is then delivered at least once (transactional outbox). With
 * `publish`, the request is handed to it right after the commit (see @gozon/messaging/outbox-publisher),
 * and the relay delivers it only if that fails; without, the relay does at once. With an
 * `idempotencyKey`, a repeat returns the order made the first time.
 */
export async function createOrder(
  db: TransactionalSqlClient,
  input: CreateOrderInput,
  idempotencyKey?: string,
  publish?: PublishRequest,
): Promise<OrderDto> {
  const order = newOrder(input);
  const direct = publish !== undefined;
  const key = idempotencyKey
    ? {
        userId: input.userId,
        scope: "orders.create",
        key: idempotencyKey,
        request: { amount: input.amount, description: input.description },
      }
    : null;
  const insert = async (tx: SqlClient) => (await insertOrders(tx, [order], direct))[0]!;
  const { response: created, replayed } = key
    ? await idempotent(db, key, insert)
    : { response: await insert(db), replayed: false };
  // A replayed Idempotency-Key returns the order made the first time: this request was never stored.
  if (publish && !replayed) await publish(order.request);
  return created;
}

/**
 * `place(input, idempotencyKey?)` for the web: createOrder, except that orders placed without a key while
 * an insert is under way form the next group, inserted by one statement (@gozon/messaging/group-commit).
 * Under load that is one round trip and one commit for many orders instead of one each; at low load an
 * order goes alone, at once. A group that fails is retried order by order, so one bad order fails alone.
 */
export function createOrderPlacer({ db, publish }: { db: TransactionalSqlClient; publish?: PublishRequest }) {
  const direct = publish !== undefined;
  const insert = groupCommit<NewOrder, OrderDto>({
    commitGroup: (orders) => insertOrders(db, orders, direct),
  });
  return async (input: CreateOrderInput, idempotencyKey?: string): Promise<OrderDto> => {
    if (idempotencyKey) return createOrder(db, input, idempotencyKey, publish);
    const order = newOrder(input);
    const created = await insert(order);
    if (publish) await publish(order.request);
    return created;
  };
}
