// Test helpers of the payments package for other packages' tests (`@gozon/payments/testing`), kept out of
// the runtime exports.
import type { SqlClient } from "@gozon/messaging/sql";
import type { PaymentRequested } from "@gozon/messaging/contracts";

/**
 * An inbox entry stored and left undecided, as a worker from before receive_payments left one when it
 * crashed between its two steps: true when stored now, false when the message id was there already.
 */
export async function storeInbox(db: SqlClient, message: PaymentRequested) {
  const rows = await db.$queryRaw<unknown[]>`
    INSERT INTO inbox (message_id, type, payload)
    VALUES (${message.messageId}::uuid, ${message.type}, ${JSON.stringify(message)}::jsonb)
    ON CONFLICT (message_id) DO NOTHING RETURNING message_id`;
  return rows.length === 1;
}
