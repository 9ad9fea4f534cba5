import { expect, type Page } from "@playwright/test";
import { ADMIN } from "@gozon/system-tests/system";

export { ADMIN };

export const webA = () => required("GOZON_WEB_A");
export const webB = () => required("GOZON_WEB_B");
export const ordersDb = () => required("GOZON_ORDERS_DB");
export const workerPid = (name: "orders-worker" | "payments-worker") =>
  Number(required(name === "orders-worker" ? "GOZON_ORDERS_WORKER_PID" : "GOZON_PAYMENTS_WORKER_PID"));

/**
 * Lets both workers run again. A spec that holds one (`holdProcess`) calls this after each test: a test
 * that times out may not reach its own `finally`, and a worker left stopped would fail every later test.
 * SIGCONT does nothing to a running process.
 */
export function continueWorkers() {
  for (const name of ["orders-worker", "payments-worker"] as const) process.kill(workerPid(name), "SIGCONT");
}

function required(name: string) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run through playwright.config.ts (global setup)`);
  return value;
}

export const PASSWORD = "password-123";
export const uniqueEmail = (label: string) =>
  `${label}-${Date.now()}-${Math.random().toString(36).slice(2, 7)}@e2e.test`;

export async function register(page: Page, base: string, email = uniqueEmail("shopper")) {
  await page.goto(`${base}/register`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("heading", { name: "Shop" })).toBeVisible();
  return email;
}

export async function signIn(page: Page, base: string, email: string, password = PASSWORD) {
  await page.goto(`${base}/login`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  // Signed in once the page has left the form: a goto before that would abort the sign-in under way.
  await expect(page).not.toHaveURL(/\/login(\?|$)/);
}

export async function openAccountAndTopUp(page: Page, roubles: string) {
  await page.getByRole("button", { name: "Open account" }).click();
  await expect(page.getByTestId("balance")).toHaveText("0,00\u00a0₽");
  await page.getByLabel("Top-up amount (₽)").fill(roubles);
  await page.getByRole("button", { name: "Top up" }).click();
  // Made once it says so: an order placed before the top-up's answer could be paid from the old balance.
  await expect(walletStatus(page)).toHaveText(/^Added /);
}

export async function placeOrder(page: Page, roubles: string, description: string) {
  await page.getByLabel("Order amount (₽)").fill(roubles);
  await page.getByLabel("Description").fill(description);
  await page.getByRole("button", { name: "Place order" }).click();
}

export const orderRow = (page: Page, description: string) =>
  page.getByRole("list", { name: "Orders" }).getByRole("listitem").filter({ hasText: description });

/** What the wallet's top-up form last said (the shop page has other live regions too). */
export const walletStatus = (page: Page) =>
  page.getByRole("region", { name: "Your wallet" }).getByRole("status");

/** The browser's call of a tRPC procedure (over HTTP, one request per call: apps/web/src/client/api.ts). */
export const trpcCall = (procedure: string) => (url: URL) => url.pathname === `/api/trpc/${procedure}`;
