import { startSystem } from "@gozon/system-tests/system";

/** Starts the real system for the browser tests; its URLs reach the tests through the environment. */
export default async function globalSetup() {
  const system = await startSystem({ webInstances: 2 });
  process.env.GOZON_WEB_A = system.webUrls[0];
  process.env.GOZON_WEB_B = system.webUrls[1];
  // For tests that hold a worker still to look at an order between two steps of its saga.
  process.env.GOZON_ORDERS_DB = system.dbs.urls.orders;
  process.env.GOZON_ORDERS_WORKER_PID = String(system.pid("orders-worker"));
  process.env.GOZON_PAYMENTS_WORKER_PID = String(system.pid("payments-worker"));
  return async () => {
    await system.stop();
  };
}
