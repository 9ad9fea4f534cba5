// Bull Board is read-only: an admin sees the queues but can put nothing on them (a hand-made
// `PaymentSucceeded` on orders.payment-results would settle an unpaid order) and change no job.
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bullPrefix, createRedisConnection, QUEUES } from "@gozon/messaging/queues";
import { QUEUE_BOARD_PATH } from "../src/server/queue-board.ts";
import { startInstances, type WebInstance } from "./instances.ts";

describe("queue board (Bull Board)", () => {
  let system: Awaited<ReturnType<typeof startInstances>>;
  let web: WebInstance;
  let queue: Queue;
  let connection: ReturnType<typeof createRedisConnection>;

  beforeAll(async () => {
    system = await startInstances(1);
    web = system.instances[0] as WebInstance;
    connection = createRedisConnection(web.config.REDIS_URL, "queue-board-test");
    queue = new Queue(QUEUES.paymentResults, { connection, prefix: bullPrefix(web.config) });
  });
  afterAll(async () => {
    await queue?.close();
    connection?.disconnect();
    await system?.close();
  });

  it("lets an admin look but refuses adding, retrying, cleaning and promoting jobs; nothing is enqueued", async () => {
    const admin = await system.user("ADMIN");
    const { accessToken } = await web.login(admin.email, admin.password);
    const auth = { authorization: `Bearer ${accessToken}` };
    const api = `${web.base}${QUEUE_BOARD_PATH}/api/queues`;

    const look = await fetch(`${api}?activeQueue=${QUEUES.paymentResults}&status=failed&page=1`, {
      headers: auth,
    });
    expect(look.status).toBe(200);
    const { queues } = (await look.json()) as { queues: Array<{ name: string; readOnlyMode: boolean }> };
    expect(queues.map((q) => [q.name, q.readOnlyMode]).sort()).toEqual([
      [QUEUES.paymentResults, true],
      [QUEUES.paymentRequests, true],
    ]);

    const forged = { name: "PaymentSucceeded", data: { orderId: "00000000-0000-0000-0000-000000000000" } };
    const attempts: Array<[method: string, path: string, body?: unknown]> = [
      ["POST", `/${QUEUES.paymentResults}/add`, forged],
      ["POST", `/${QUEUES.paymentRequests}/add`, forged],
      ["PUT", `/${QUEUES.paymentResults}/retry/failed`],
      ["PUT", `/${QUEUES.paymentResults}/clean/completed`],
      ["PUT", `/${QUEUES.paymentResults}/promote`],
      ["PUT", `/${QUEUES.paymentResults}/pause`],
      ["PUT", `/${QUEUES.paymentResults}/empty`],
      ["PUT", "/pause"],
      ["PUT", `/${QUEUES.paymentResults}/some-job/retry`],
      ["PATCH", `/${QUEUES.paymentResults}/some-job/update-data`, { data: {} }],
      ["DELETE", `/${QUEUES.paymentResults}/obliterate`],
    ];
    for (const [method, path, body] of attempts) {
      const res = await fetch(`${api}${path}`, {
        method,
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify(body ?? {}),
      });
      expect(res.status, `${method} ${path}`).toBe(405);
    }

    const counts = await queue.getJobCounts(
      "waiting",
      "delayed",
      "prioritized",
      "active",
      "completed",
      "failed",
    );
    expect(Object.values(counts).reduce((sum, n) => sum + n, 0)).toBe(0);
    expect(await queue.isPaused()).toBe(false);
  });
});
