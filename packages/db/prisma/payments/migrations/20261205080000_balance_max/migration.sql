-- A balance stays within what every client reads exactly (2^53 - 1, JavaScript's largest safe integer):
-- top-ups stop short of it (accounts.ts), and this keeps any other writer from passing it.
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_balance_max" CHECK ("balance" <= 9007199254740991);
