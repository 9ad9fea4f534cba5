// Reference (b)'s middle hop, in its own process as the payments worker is: consumes queue A and adds a
// reply to queue B, or, for the floor's jobs (named "floor"), to the floor's reply queue, which the
// monolith server consumes. Started by bullmq-reference.ts; stops on SIGTERM.
import { Queue, Worker } from "bullmq";
import { loadRedisTarget } from "@gozon/core/config";
import { createRedisConnection, defaultJobOptions } from "@gozon/messaging/queues";

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

// The environment's Redis (REDIS_URL, REDIS_PASSWORD, REDIS_TLS_CA), as the bench reaches it.
const connection = createRedisConnection(loadRedisTarget(), "bench-echo");
const prefix = env("BENCH_BULL_PREFIX");
const replies = new Queue(env("BENCH_QUEUE_B"), { connection, prefix, defaultJobOptions });
const floorReplies = new Queue(env("BENCH_QUEUE_FLOOR_REPLIES"), { connection, prefix, defaultJobOptions });
const worker = new Worker(
  env("BENCH_QUEUE_A"),
  async (job) => {
    const to = job.name === "floor" ? floorReplies : replies;
    await to.add("reply", job.data, { jobId: `${job.id}-reply` });
  },
  { connection, prefix, concurrency: Number(env("BENCH_CONCURRENCY")) },
);
await worker.waitUntilReady();
process.stdout.write("bullmq echo ready\n");

process.once("SIGTERM", () => {
  void Promise.all([worker.close(), replies.close(), floorReplies.close()]).finally(() => {
    connection.disconnect();
    process.exit(0);
  });
});
