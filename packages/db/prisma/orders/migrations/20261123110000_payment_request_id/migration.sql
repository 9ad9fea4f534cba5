-- The message id of the order's latest PaymentRequested: the reconciler asks the queue whether that
-- request is still waiting or running before it asks again (a slow system is not a lossy one).
ALTER TABLE "orders" ADD COLUMN "payment_request_id" UUID;
