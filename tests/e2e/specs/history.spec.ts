import { expect, test, type Page } from "@playwright/test";
import { holdProcess, waitForPaymentRequestSent } from "@gozon/system-tests/hold";
import {
  ADMIN,
  continueWorkers,
  openAccountAndTopUp,
  orderRow,
  ordersDb,
  PASSWORD,
  placeOrder,
  register,
  signIn,
  uniqueEmail,
  webA,
  workerPid,
} from "./helpers.ts";

test.afterEach(continueWorkers);

const statement = (page: Page) => page.getByRole("list", { name: "Statement" }).getByRole("listitem");
const timeline = (page: Page) => page.getByRole("list", { name: "Order history" }).getByRole("listitem");

test("a shopper follows a debit from the statement to its order page and sees it turn FINISHED live", async ({
  page,
}) => {
  await register(page, webA());
  await openAccountAndTopUp(page, "1 000,00");
  await expect(statement(page).filter({ hasText: "Top-up" })).toContainText("+1\u00a0000,00\u00a0₽");

  // Hold the saga between the debit and the settle: the payments worker is held until the request is
  // queued, then the orders worker is held while payments debits, so the statement shows the debit of
  // an order that is still NEW.
  const payments = holdProcess(workerPid("payments-worker"));
  let orders: ReturnType<typeof holdProcess> | undefined;
  try {
    await placeOrder(page, "250,00", "Garland");
    const row = orderRow(page, "Garland");
    await expect(row).toBeVisible();
    const orderId = await row.getAttribute("data-order-id");
    expect(orderId).toBeTruthy();
    await waitForPaymentRequestSent(ordersDb(), orderId!);
    orders = holdProcess(workerPid("orders-worker"));
    payments.release();

    const debit = statement(page).filter({ hasText: "−250,00" });
    await expect(async () => {
      await page.reload();
      // The statement is read after hydration, three calls in a row: seconds on a slow host.
      await expect(debit).toBeVisible({ timeout: 5_000 });
    }).toPass({ timeout: 30_000 });
    await expect(debit).toContainText("balance 750,00\u00a0₽");
    await debit.getByRole("link", { name: /Payment for order/ }).click();

    await expect(page).toHaveURL(`${webA()}/orders/${orderId}`);
    await expect(page.getByRole("heading", { name: "Garland" })).toBeVisible();
    await expect(page.getByTestId("order-amount")).toHaveText("250,00\u00a0₽");
    await expect(timeline(page)).toHaveText([/^Placed/, /^Awaiting payment/]);
    await expect(page.locator("dd [data-status]")).toHaveAttribute("data-status", "NEW");
  } finally {
    payments.release();
    orders?.release();
  }

  // The orders worker settles the order: the open page shows it without a reload.
  await expect(timeline(page)).toHaveText([/^Placed/, /^Paid/]);
  await expect(page.locator("dd [data-status]")).toHaveAttribute("data-status", "FINISHED");

  // An id that is not one of the shopper's orders, or a malformed one, reads "Order not found".
  await page.goto(`${webA()}/orders/${crypto.randomUUID()}`);
  await expect(page.getByRole("heading", { name: "Order not found" })).toBeVisible();
  await page.goto(`${webA()}/orders/not-an-id`);
  await expect(page.getByRole("heading", { name: "Order not found" })).toBeVisible();
});

test("an admin filters cancelled orders, opens the user, tops them up and creates another admin", async ({
  browser,
}) => {
  const shopper = await browser.newContext();
  const shopperPage = await shopper.newPage();
  const email = await register(shopperPage, webA(), uniqueEmail("cancelled"));
  await openAccountAndTopUp(shopperPage, "100");
  await expect(shopperPage.getByTestId("balance")).toHaveText("100,00\u00a0₽");
  await placeOrder(shopperPage, "40,00", "Candle");
  await expect(orderRow(shopperPage, "Candle").locator("[data-status]")).toHaveAttribute(
    "data-status",
    "FINISHED",
  );
  const admin = await browser.newContext();
  const page = await admin.newPage();
  await signIn(page, webA(), ADMIN.email, ADMIN.password);
  await expect(page.getByRole("heading", { name: "Live order feed" })).toBeVisible();
  await page.getByRole("link", { name: "Orders", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Orders" })).toBeVisible();
  const rows = page.getByRole("list", { name: "Orders" }).getByRole("listitem");

  // The payments worker is held: the new order stays NEW on the admin's screen until it is released.
  const payments = holdProcess(workerPid("payments-worker"));
  try {
    await placeOrder(shopperPage, "150,00", "Sleigh");
    await expect(orderRow(shopperPage, "Sleigh")).toBeVisible();
    await page.getByLabel("Shopper email (exact)").fill(email);
    await page.getByRole("button", { name: "Show orders" }).click();
    await expect(rows).toHaveCount(2);
    await expect(rows.filter({ hasText: "Sleigh" }).locator("[data-status]")).toHaveAttribute(
      "data-status",
      "NEW",
    );
  } finally {
    payments.release();
  }
  // The visible row follows its order live.
  await expect(rows.filter({ hasText: "Sleigh" }).locator("[data-status]")).toHaveAttribute(
    "data-status",
    "CANCELLED",
  );

  await page.getByLabel("Status").selectOption("CANCELLED");
  await page.getByRole("button", { name: "Show orders" }).click();
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText("Sleigh");
  await expect(rows.first().locator("[data-status]")).toHaveAttribute("data-status", "CANCELLED");
  await expect(rows.first()).toContainText("insufficient funds");

  await rows.first().getByRole("link", { name: email }).click();
  await expect(page.getByRole("heading", { name: email })).toBeVisible();
  await expect(page.getByTestId("user-balance")).toHaveText("60,00\u00a0₽");
  await expect(page.getByRole("list", { name: "Orders" }).getByRole("listitem")).toHaveCount(2);
  await page.getByLabel("Top-up amount (₽)").fill("75,25");
  await page.getByRole("button", { name: "Top up" }).click();
  await expect(page.getByTestId("user-balance")).toHaveText("135,25\u00a0₽");
  await expect(page.getByRole("status")).toContainText("Added 75,25\u00a0₽");
  await expect(statement(page).first()).toContainText("+75,25\u00a0₽");
  await expect(statement(page).first()).toContainText("balance 135,25\u00a0₽");
  // The page follows the user: an order they place now shows up paid, with its debit, without a reload.
  await placeOrder(shopperPage, "35,25", "Lantern");
  const userOrders = page.getByRole("list", { name: "Orders" }).getByRole("listitem");
  await expect(userOrders).toHaveCount(3);
  await expect(userOrders.filter({ hasText: "Lantern" }).locator("[data-status]")).toHaveAttribute(
    "data-status",
    "FINISHED",
  );
  await expect(page.getByTestId("user-balance")).toHaveText("100,00\u00a0₽");
  await expect(statement(page).first()).toContainText("−35,25\u00a0₽");

  // The user's payment decisions: the two paid ones and the refused one.
  await page.getByRole("link", { name: "their payments" }).click();
  const decisions = page.getByRole("list", { name: "Payments" }).getByRole("listitem");
  await expect(decisions).toHaveCount(3);
  // Each names its shopper as the Orders page does, by email.
  for (const decision of await decisions.all())
    await expect(decision.getByRole("link", { name: email })).toBeVisible();
  // In the shop's words, as the order badges are: what was charged, what was refused and why.
  const refused = decisions.filter({ hasText: "150,00" }).locator("[data-outcome]");
  await expect(refused).toHaveAttribute("data-outcome", "FAILED");
  await expect(refused).toHaveText("Refused · insufficient funds");
  const charged = decisions.filter({ hasText: "40,00" }).locator("[data-outcome]");
  await expect(charged).toHaveAttribute("data-outcome", "SUCCEEDED");
  await expect(charged).toHaveText("Charged");

  await page.getByRole("link", { name: "New admin" }).click();
  const newAdmin = uniqueEmail("admin");
  await page.getByLabel("New admin's email").fill(newAdmin);
  await page.getByLabel("New admin's password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create admin" }).click();
  await expect(page.getByRole("status")).toHaveText(`Admin ${newAdmin} created: they can sign in now.`);

  const other = await browser.newContext();
  const otherPage = await other.newPage();
  await signIn(otherPage, webA(), newAdmin);
  await expect(otherPage.getByRole("heading", { name: "Live order feed" })).toBeVisible();
  await expect(otherPage.getByText(`${newAdmin} (admin)`)).toBeVisible();
  await otherPage.getByRole("link", { name: "Payments", exact: true }).click();
  await expect(otherPage.getByRole("heading", { name: "Payments" })).toBeVisible();

  await shopper.close();
  await admin.close();
  await other.close();
});

test("a long statement pages with “Load more entries”", async ({ page }) => {
  await register(page, webA());
  await openAccountAndTopUp(page, "1");
  for (let i = 2; i <= 11; i++) {
    await expect(page.getByTestId("balance")).toHaveText(`${i - 1},00\u00a0₽`);
    await page.getByLabel("Top-up amount (₽)").fill("1");
    await page.getByRole("button", { name: "Top up" }).click();
  }
  await expect(page.getByTestId("balance")).toHaveText("11,00\u00a0₽");
  await expect(statement(page)).toHaveCount(10);
  await expect(statement(page).first()).toContainText("balance 11,00\u00a0₽");
  await page.getByRole("button", { name: "Load more entries" }).click();
  await expect(statement(page)).toHaveCount(11);
  await expect(statement(page).last()).toContainText("balance 1,00\u00a0₽");
  await expect(page.getByRole("button", { name: "Load more entries" })).toHaveCount(0);
});
