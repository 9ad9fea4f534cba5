// Holding a worker still (SIGSTOP … SIGCONT) freezes an order between two steps of its saga, so a browser
// test can look at the state in between. A stopped process keeps its connections; queued jobs wait in
// Redis and are taken as soon as it continues.
import pg from "pg";
import { waitFor } from "@gozon/core/testing";

export function holdProcess(pid: number) {
  process.kill(pid, "SIGSTOP");
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      process.kill(pid, "SIGCONT");
    },
  };
}

/** Resolves once the orders relay has sent the order's payment request (its outbox row is marked sent). */
export async function waitForPaymentRequestSent(ordersDbUrl: string, orderId: string, timeoutMs = 15_000) {
  const client = new pg.Client({ connectionString: ordersDbUrl });
  await client.connect();
  try {
    await waitFor(
      async () => {
        const { rows } = await client.query<{ sent: boolean }>(
          `SELECT outbox.sent_at IS NOT NULL AS sent
           FROM orders JOIN outbox ON outbox.id = orders.payment_request_id WHERE orders.id = $1`,
          [orderId],
        );
        return rows[0]?.sent === true;
      },
      { timeoutMs, what: `the payment request of order ${orderId} to be sent` },
    );
  } finally {
    await client.end();
  }
}
