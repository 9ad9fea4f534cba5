import { expect, test } from "@playwright/test";
import { ADMIN, placeOrder, register, signIn, uniqueEmail, webA, webB } from "./helpers.ts";

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
  await expect(feed.getByTestId("count-CANCELLED")).not.toHaveText("0");
  // Each row names its shopper, and leads to the shopper's page.
  await row.getByRole("link", { name: email }).click();
  await expect(feed.getByRole("heading", { name: email })).toBeVisible();
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
