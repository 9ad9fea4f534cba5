import { expect, test } from "@playwright/test";
import {
  ADMIN,
  PASSWORD,
  openAccountAndTopUp,
  orderRow,
  placeOrder,
  register,
  signIn,
  uniqueEmail,
  webA,
  webB,
} from "./helpers.ts";

test("an account opened in one tab shows at once in the shopper's other tab and on an admin's page of them", async ({
  page,
  browser,
}) => {
  const email = await register(page, webA(), uniqueEmail("opens"));
  const tab = await page.context().newPage();
  await tab.goto(`${webA()}/`);
  await expect(tab.getByRole("button", { name: "Open account" })).toBeVisible();

  // An admin, on the other instance, has the shopper's page open before the account exists.
  const admin = await browser.newContext();
  const adminPage = await admin.newPage();
  await signIn(adminPage, webB(), ADMIN.email, ADMIN.password);
  await adminPage.getByRole("link", { name: "Top up accounts" }).click();
  await adminPage.getByLabel("Search by email").fill(email);
  await adminPage.getByRole("button", { name: "Search" }).click();
  await adminPage.getByRole("link", { name: email }).click();
  await expect(adminPage.getByText("No account yet")).toBeVisible();

  await page.getByRole("button", { name: "Open account" }).click();
  await expect(page.getByTestId("balance")).toHaveText("0,00\u00a0₽");
  // Neither reloads nor is brought back to the front: the opening reaches them live.
  await expect(tab.getByTestId("balance")).toHaveText("0,00\u00a0₽");
  await expect(adminPage.getByTestId("user-balance")).toHaveText("0,00\u00a0₽");
  // And the admin can top the account up from there at once.
  await adminPage.getByLabel("Top-up amount (₽)").fill("20");
  await adminPage.getByRole("button", { name: "Top up" }).click();
  await expect(page.getByTestId("balance")).toHaveText("20,00\u00a0₽");
  await admin.close();
  await tab.close();
});

test("a page whose browser signed in as another user meanwhile becomes that user's, not a mix of the two", async ({
  page,
  browser,
  request,
}) => {
  const first = await register(page, webA(), uniqueEmail("first"));
  await expect(page.getByRole("banner")).toContainText(first);
  const otherBrowser = await browser.newContext();
  const second = await register(await otherBrowser.newPage(), webA(), uniqueEmail("second"));
  await otherBrowser.close();

  // Another tab of this browser signs in as the second user: the cookies the page shares are theirs now.
  // The page's own session then ends (as a sign-out elsewhere would end it), so it refreshes.
  const ownRefresh = (await page.context().cookies()).find(({ name }) => name === "gozon_rt");
  expect(ownRefresh).toBeDefined();
  const signIn = await page.context().request.post(`${webA()}/api/v1/auth/login`, {
    data: { email: second, password: PASSWORD },
  });
  expect(signIn.status()).toBe(200);
  const ended = await request.post(`${webA()}/api/v1/auth/logout`, {
    data: { refreshToken: ownRefresh!.value },
  });
  expect(ended.ok()).toBe(true);

  // The refresh signs in the second user: the page is theirs, with nothing of the first left on it.
  await expect(page.getByRole("banner")).toContainText(second);
  await expect(page.getByRole("banner")).not.toContainText(first);
  await page.getByRole("button", { name: "Open account" }).click();
  await expect(page.getByTestId("balance")).toHaveText("0,00\u00a0₽");
});

test("a sign-out in another tab takes this one to the sign-in page, and a sign-in there brings it back as that user", async ({
  page,
  browser,
}) => {
  const first = await register(page, webA(), uniqueEmail("left"));
  const otherBrowser = await browser.newContext();
  const second = await register(await otherBrowser.newPage(), webA(), uniqueEmail("came"));
  await otherBrowser.close();
  // The account page keeps no socket open: nothing but the other tab's word tells it of the change.
  await page.getByRole("link", { name: "Account" }).click();
  await expect(page).toHaveTitle("Your account · Gozon");
  await expect(page.getByRole("banner")).toContainText(first);

  const tab = await page.context().newPage();
  await tab.goto(`${webA()}/`);
  await tab.getByRole("button", { name: "Log out" }).click();
  await expect(tab.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();

  await signIn(tab, webA(), second);
  // This page goes back where it was, as the user now signed in, with nothing of the first left.
  await expect(page).toHaveTitle("Your account · Gozon");
  await expect(page.getByRole("banner")).toContainText(second);
  await expect(page.getByRole("banner")).not.toContainText(first);
  await tab.close();
});

test("a new password signs out every other browser; this one goes on, live", async ({ page, browser }) => {
  const email = await register(page, webA());
  await openAccountAndTopUp(page, "100");
  // The same shopper in another browser: a device the old password opened (a thief's, say).
  const other = await browser.newContext();
  const otherPage = await other.newPage();
  await signIn(otherPage, webA(), email);
  await expect(otherPage.getByRole("heading", { name: "Shop" })).toBeVisible();

  // And a second tab of this browser, open on the shop while the password changes in the first.
  const tab = await page.context().newPage();
  await tab.goto(`${webA()}/`);
  await expect(tab.getByRole("heading", { name: "Shop" })).toBeVisible();

  await page.getByRole("link", { name: "Account" }).click();
  await expect(page).toHaveTitle("Your account · Gozon");
  const change = async (current: string, next: string, again = next) => {
    await page.getByLabel("Current password").fill(current);
    await page.getByLabel("New password", { exact: true }).fill(next);
    await page.getByLabel("New password again").fill(again);
    await page.getByRole("button", { name: "Change password" }).click();
  };
  // Refused, naming the field, with nothing changed.
  await change(PASSWORD, "another-password-1", "another-password-2");
  await expect(page.getByText("The two new passwords differ")).toBeVisible();
  await change("not-my-password", "another-password-1");
  await expect(page.getByText("Current password is not this account's password")).toBeVisible();

  await change(PASSWORD, "another-password-1");
  await expect(page.getByRole("status")).toHaveText(/^Password changed\./);
  await expect(page.getByLabel("Current password")).toHaveValue("");

  // The other browser's session is over: its next read sends it to sign in.
  await otherPage.reload();
  await expect(otherPage.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await other.close();

  // The other tab shares this browser's new session: it goes on too, its order settling live.
  await placeOrder(tab, "3", "From the other tab");
  await expect(orderRow(tab, "From the other tab").locator("[data-status]")).toHaveText("Paid");
  await expect(tab.getByRole("heading", { name: "Shop" })).toBeVisible();
  await tab.close();

  // This one goes on in its new session, its order settling live.
  await page.getByRole("link", { name: "Shop" }).click();
  await placeOrder(page, "5", "After the change");
  await expect(orderRow(page, "After the change").locator("[data-status]")).toHaveText("Paid");
  // Only the new password opens the account now.
  await page.context().clearCookies();
  await signIn(page, webA(), email, "another-password-1");
  await expect(page.getByRole("heading", { name: "Shop" })).toBeVisible();
});
