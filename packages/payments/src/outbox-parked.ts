// The payments outbox's parked rows (results the relay could not publish), for the admin's view.
import { readParkedOutbox, type ParkedOutbox } from "@gozon/messaging/outbox";
import type { SqlClient } from "@gozon/messaging/sql";

export function parkedPaymentsOutbox(db: SqlClient, limit: number): Promise<ParkedOutbox> {
  return readParkedOutbox(db, limit);
}
