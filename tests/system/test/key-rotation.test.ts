// Rotating MESSAGE_SIGNING_KEY on a running system, one process at a time, while orders keep coming: the
// README's three steps (accept the new key everywhere, sign with it everywhere, drop the old one). No
// message is refused on the way, so every order settles through its own messages: the reconciler, which
// would ask again for an order whose request or result was refused, is set to wait an hour.
import { randomBytes } from "node:crypto";
import { afterEach, expect, it } from "vitest";
import { waitFor } from "@gozon/core/testing";
import { TEST_MESSAGE_SIGNING_KEY } from "@gozon/messaging/testing";
import { signUp } from "../src/client.ts";
import { countOrders } from "../src/invariants.ts";
import { startSystem, type PartName, type System } from "../src/system.ts";

const OLD_KEY = TEST_MESSAGE_SIGNING_KEY;
const NEW_KEY = randomBytes(32).toString("hex");
const PARTS: PartName[] = ["web-0", "orders-worker", "payments-worker"];
/** What a worker logs for a message it refuses (consume-requests.ts, consume-results.ts). */
const REFUSED = /poison (message|payment result)/;

let system: System | undefined;

afterEach(async (context) => {
  if (context.task.result?.state === "fail" && system) console.error(system.output().slice(-20_000));
  await system?.stop();
  system = undefined;
});

it("changes the signing key one process at a time under load, refusing no message and losing no order", async () => {
  system = await startSystem({ env: { RECONCILE_AFTER_MS: "3600000" } });
  const sys = system;
  const web = sys.webUrls[0] as string;
  const shopper = await signUp(web, "rotation");
  await shopper.api.createAccount();
  await shopper.api.topUp(1_000_000);

  // A steady stream of orders through every restart: some are in the queues when a process goes.
  let placed = 0;
  let placing = true;
  const stream = (async () => {
    while (placing) {
      // Counted once made: while the web instance restarts, creates fail and cross nothing.
      const made = await shopper.api.createOrder(100, "during the rotation").then(
        () => true,
        () => false,
      );
      if (made) placed++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const rollOut = async (parts: PartName[], env: Record<string, string>) => {
    for (const part of parts) {
      const before = placed;
      await sys.restart(part, env);
      // Orders cross the half-changed system before the next process goes.
      await waitFor(() => placed >= before + 10, { timeoutMs: 60_000, what: "orders after a restart" });
    }
  };
  await rollOut(PARTS, { MESSAGE_SIGNING_KEYS_ACCEPTED: NEW_KEY });
  await rollOut([...PARTS].reverse(), {
    MESSAGE_SIGNING_KEY: NEW_KEY,
    MESSAGE_SIGNING_KEYS_ACCEPTED: OLD_KEY,
  });
  await rollOut(PARTS, { MESSAGE_SIGNING_KEYS_ACCEPTED: "" });
  placing = false;
  await stream;

  const before = await countOrders(sys.dbs.urls);
  const created = before.NEW + before.FINISHED + before.CANCELLED;
  expect(created).toBeGreaterThanOrEqual(90);
  await waitFor(
    async () => {
      const counts = await countOrders(sys.dbs.urls);
      return counts.NEW === 0 && counts.FINISHED === created;
    },
    { timeoutMs: 60_000, what: `all ${created} orders paid without the reconciler` },
  );
  expect(sys.output()).not.toMatch(REFUSED);

  // The same check sees a step taken out of turn: a payments worker back on the old key alone refuses
  // what the others now sign, and the order waits for the reconciler.
  await sys.restart("payments-worker", { MESSAGE_SIGNING_KEY: OLD_KEY });
  const { order } = await shopper.api.createOrder(100, "after a step out of turn");
  await waitFor(() => REFUSED.test(sys.output()), { timeoutMs: 30_000, what: "the request refused" });
  expect((await shopper.api.getOrder(order.id)).order.status).toBe("NEW");
});
