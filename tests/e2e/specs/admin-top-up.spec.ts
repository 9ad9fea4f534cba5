import { expect, test } from "@playwright/test";
import { signUp } from "@gozon/system-tests/client";
import { ADMIN, signIn, webA, webB } from "./helpers.ts";

test("searching the same email again reads it again: an account opened meanwhile can be topped up, at its current balance", async ({
  browser,
}) => {
  const shopper = await signUp(webA(), "late-account");
  const admin = await browser.newContext();
  const page = await admin.newPage();
  await signIn(page, webB(), ADMIN.email, ADMIN.password);
  await expect(page.getByRole("heading", { name: "Live order feed" })).toBeVisible();
  await page.getByRole("link", { name: "Top up accounts" }).click();
  await page.getByLabel("Search by email").fill(shopper.email);
  await page.getByRole("button", { name: "Search" }).click();
  const row = page
    .getByRole("list", { name: "Users" })
    .getByRole("listitem")
    .filter({ hasText: shopper.email });
  await expect(row).toContainText("no account");
  await page.getByRole("button", { name: `Select ${shopper.email}` }).click();
  await expect(page.getByText("This user has no account yet")).toBeVisible();

  // The shopper opens their account; the admin looks again.
  await shopper.api.createAccount();
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page.getByLabel("Top-up amount (₽)")).toBeVisible();
  await expect(page.getByTestId("selected-balance")).toHaveText("0,00\u00a0₽");
  await expect(row).toContainText("0,00\u00a0₽");

  // The balance moves elsewhere: the next search shows it, not the one first read.
  await shopper.api.topUp(42_00);
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page.getByTestId("selected-balance")).toHaveText("42,00\u00a0₽");
  await page.getByLabel("Top-up amount (₽)").fill("8,00");
  await page.getByRole("button", { name: "Top up" }).click();
  await expect(page.getByTestId("selected-balance")).toHaveText("50,00\u00a0₽");
  expect((await shopper.api.getAccount()).account.balance).toBe(50_00);
  await admin.close();
});
