import { expect, test } from "@playwright/test";
import { holdProcess } from "@gozon/system-tests/hold";
import {
  ADMIN,
  continueWorkers,
  openAccountAndTopUp,
  orderRow,
  placeOrder,
  register,
  signIn,
  uniqueEmail,
  webA,
  webB,
  workerPid,
} from "./helpers.ts";

test.afterEach(continueWorkers);

test("the admin finds a shopper and tops up their account; the shopper's open page shows it live", async ({
  browser,
}) => {
  const shopper = await browser.newContext();
  const shopperPage = await shopper.newPage();
  const email = await register(shopperPage, webA(), uniqueEmail("topped"));
  await shopperPage.getByRole("button", { name: "Open account" }).click();
  await expect(shopperPage.getByTestId("balance")).toHaveText("0,00\u00a0₽");

  const admin = await browser.newContext();
  const page = await admin.newPage();
  await signIn(page, webB(), ADMIN.email, ADMIN.password);
  await expect(page.getByRole("heading", { name: "Live order feed" })).toBeVisible();
  await page.getByRole("link", { name: "Top up accounts" }).click();
  await page.getByLabel("Search by email").fill(email);
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByRole("button", { name: `Select ${email}` }).click();
  await expect(page.getByTestId("selected-balance")).toHaveText("0,00\u00a0₽");
  await page.getByLabel("Top-up amount (₽)").fill("500,50");
  await page.getByRole("button", { name: "Top up" }).click();
  await expect(page.getByTestId("selected-balance")).toHaveText("500,50\u00a0₽");

  // The shopper's open page (on the other instance) follows it live: no reload, no coming back to it.
  await expect(shopperPage.getByTestId("balance")).toHaveText("500,50\u00a0₽");
  await expect(
    shopperPage.getByRole("list", { name: "Statement" }).getByRole("listitem").first(),
  ).toContainText("+500,50");

  // And the other way: the admin's page of the shopper follows a top-up the shopper makes.
  await page.getByRole("link", { name: email }).click();
  await expect(page.getByTestId("user-balance")).toHaveText("500,50 ₽");
  await shopperPage.getByLabel("Top-up amount (₽)").fill("10");
  await shopperPage.getByRole("button", { name: "Top up" }).click();
  await expect(page.getByTestId("user-balance")).toHaveText("510,50 ₽");
  await expect(page.getByRole("list", { name: "Statement" }).getByRole("listitem").first()).toContainText(
    "+10,00",
  );
  await shopper.close();
  await admin.close();
});

test("the admin feed shows an order placed by a shopper in another browser", async ({ browser }) => {
  const admin = await browser.newContext();
  const feed = await admin.newPage();
  await signIn(feed, webB(), ADMIN.email, ADMIN.password);
  await expect(feed.getByRole("heading", { name: "Live order feed" })).toBeVisible();

  const shopper = await browser.newContext();
  const page = await shopper.newPage();
  const email = await register(page, webA());
  const description = `Feed check ${Date.now()}`;
  await placeOrder(page, "12,34", description);

  const row = feed
    .getByRole("list", { name: "Orders" })
    .getByRole("listitem")
    .filter({ hasText: description });
  await expect(row).toBeVisible();
  // The shopper has no account: the feed shows the order settle as cancelled.
  await expect(row.locator("[data-status]")).toHaveAttribute("data-status", "CANCELLED");
  await expect(row.locator("[data-status]")).toHaveText("Cancelled · no account");
  await expect(feed.getByTestId("count-CANCELLED")).not.toHaveText("0");
  await expect(feed.getByRole("term")).toHaveText(["Awaiting payment", "Paid", "Cancelled"]);
  // Each row names its shopper, and leads to the shopper's page.
  await row.getByRole("link", { name: email }).click();
  await expect(feed.getByRole("heading", { name: email })).toBeVisible();
  await expect(feed).toHaveTitle(`User ${new URL(feed.url()).pathname.split("/")[3]?.slice(0, 8)} · Gozon`);
  await shopper.close();
  await admin.close();
});

test("pressing “Show orders” again with the same filters lists the orders placed meanwhile", async ({
  browser,
}) => {
  const shopper = await browser.newContext();
  const shopperPage = await shopper.newPage();
  const email = await register(shopperPage, webA(), uniqueEmail("again"));

  const admin = await browser.newContext();
  const page = await admin.newPage();
  await signIn(page, webA(), ADMIN.email, ADMIN.password);
  await expect(page.getByRole("heading", { name: "Live order feed" })).toBeVisible();
  await page.getByRole("link", { name: "Orders", exact: true }).click();
  await expect(page).toHaveTitle("Orders · Gozon");
  await page.getByLabel("Shopper email (exact)").fill(email);
  await page.getByRole("button", { name: "Show orders" }).click();
  await expect(page.getByText("No orders match these filters.")).toBeVisible();

  // No account: the order is cancelled at once.
  await placeOrder(shopperPage, "15,00", "Lantern");
  await expect(shopperPage.getByRole("alert").filter({ hasText: "Order “Lantern” cancelled" })).toBeVisible();

  await page.getByRole("button", { name: "Show orders" }).click();
  const rows = page.getByRole("list", { name: "Orders" }).getByRole("listitem");
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText("Lantern");
  await shopper.close();
  await admin.close();
});

test("a list read before a settle the feed already showed does not put the row back to NEW", async ({
  browser,
}) => {
  const shopper = await browser.newContext();
  const shopperPage = await shopper.newPage();
  const email = await register(shopperPage, webA(), uniqueEmail("race"));
  await openAccountAndTopUp(shopperPage, "100");

  const admin = await browser.newContext();
  const page = await admin.newPage();
  await signIn(page, webA(), ADMIN.email, ADMIN.password);
  await page.goto(`${webA()}/admin/orders`);
  await page.getByLabel("Shopper email (exact)").fill(email);

  const payments = holdProcess(workerPid("payments-worker"));
  try {
    await placeOrder(shopperPage, "10,00", "Held lamp");
    await expect(orderRow(shopperPage, "Held lamp")).toBeVisible();
    await page.getByRole("button", { name: "Show orders" }).click();
    const lamp = orderRow(page, "Held lamp").locator("[data-status]");
    await expect(lamp).toHaveAttribute("data-status", "NEW");
    await placeOrder(shopperPage, "20,00", "Held bell");
    await expect(orderRow(shopperPage, "Held bell")).toBeVisible();

    // Every read of the list from now on is taken while both orders are NEW and answered only after the
    // feed has shown the lamp paid: a read that was on its way while the settle went by.
    let reads = 0;
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    await page.route("**/api/trpc/admin.listOrders*", async (route) => {
      const response = await route.fetch();
      reads += 1;
      await answered;
      await route.fulfill({ response });
    });
    await page.getByRole("button", { name: "Show orders" }).click();
    await expect.poll(() => reads).toBeGreaterThan(0);

    payments.release();
    await expect(lamp).toHaveAttribute("data-status", "FINISHED");
    answer();
    // The stale read is on screen once the bell (placed after the first read) is listed.
    await expect(orderRow(page, "Held bell")).toBeVisible();
    await expect(lamp).toHaveAttribute("data-status", "FINISHED");
    await page.unroute("**/api/trpc/admin.listOrders*");
  } finally {
    payments.release();
  }
  await shopper.close();
  await admin.close();
});
