// The BullMQ worker both consumers run: the queue options they share, and jobs whose stored data is not
// JSON handed to the processor instead of stalling forever.
import { Worker, type Job, type JobJson, type Processor, type WorkerOptions } from "bullmq";
import type { Logger } from "@gozon/core/logger";
import { consumerOptions, withTimeout, type QueueName } from "./queues.ts";

/**
 * BullMQ parses a job's `data` before the processor sees it. Data that is not JSON (anyone who can write
 * to Redis can put it there) throws inside BullMQ's fetch loop: the job is neither run nor failed, its
 * lock is never renewed, and the stalled check puts it back in the queue, where it is fetched again, for
 * good (BullMQ marks a job stalled too often to be failed by the processor's turn, which this job never
 * gets). Here such a job reaches the processor with its stored text as its data; the message contract
 * refuses a string, so the consumer dead-letters it once, like any other poison message.
 *
 * Corrupt BullMQ bookkeeping (a job's `opts` or `progress` that is not JSON) still throws before this
 * point, and such a job comes back for good; the reconciler takes it for lost once BullMQ gave up on it
 * (`jobsInFlight`), so its order is asked for again.
 */
class MessageWorker extends Worker<unknown, unknown, string> {
  protected override createJob(data: JobJson, jobId: string): Job<unknown, unknown, string> {
    try {
      return super.createJob(data, jobId);
    } catch (error) {
      if (isJson(data.data)) throw error; // not the data: nothing to hand over
      return super.createJob({ ...data, data: JSON.stringify(String(data.data)) }, jobId);
    }
  }
}

function isJson(text: string | undefined) {
  try {
    JSON.parse(text || "{}"); // as BullMQ reads it
    return true;
  } catch {
    return false;
  }
}

export function startConsumer(
  queue: QueueName,
  processor: Processor<unknown, unknown, string>,
  options: Pick<WorkerOptions, "connection" | "prefix" | "concurrency">,
): Worker<unknown, unknown, string> {
  return new MessageWorker(queue, processor, { ...options, ...consumerOptions });
}

/**
 * Closes a consumer, letting the jobs in hand finish; but not for ever. With Redis out of reach BullMQ's
 * close never returns (it waits on its connections), and the rest of the shutdown (relay, pools) would
 * never run before the process is killed. A job cut short is safe: it stalls, comes back, and the
 * consumer's inbox or group commit makes its redelivery change nothing twice.
 */
export async function closeConsumer(
  worker: Worker<unknown, unknown, string>,
  log: Logger,
  timeoutMs = 5_000,
) {
  await withTimeout(worker.close(), timeoutMs, `not closed within ${timeoutMs} ms`).catch((err: unknown) =>
    log.warn({ err }, "the consumer did not close in time (Redis out of reach?); going on"),
  );
}
