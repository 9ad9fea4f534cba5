import { expect, test } from "@playwright/test";
import { apiClient } from "@gozon/system-tests/client";
import {
  openAccountAndTopUp,
  orderRow,
  PASSWORD,
  placeOrder,
  register,
  walletStatus,
  webA,
} from "./helpers.ts";

test("a shopper tops up, places an order and sees it paid live", async ({ page }) => {
  await register(page, webA());
  await expect(page).toHaveTitle("Shop · Gozon");
  await openAccountAndTopUp(page, "1 000,00");
  await expect(page.getByTestId("balance")).toHaveText("1\u00a0000,00\u00a0₽");
  await expect(walletStatus(page)).toHaveText("Added 1\u00a0000,00\u00a0₽ to the account.");

  // A refused amount is explained under the field, and the explanation goes once the field is edited.
  const amount = page.getByLabel("Top-up amount (₽)");
  await amount.fill("12,345");
  await page.getByRole("button", { name: "Top up" }).click();
  await expect(walletStatus(page)).toBeEmpty();
  const refusal = page.locator("#topup-amount-error");
  await expect(refusal).toBeVisible();
  await amount.fill("12,34");
  await expect(refusal).toHaveCount(0);
  await expect(page.getByTestId("balance")).toHaveText("1\u00a0000,00\u00a0₽");

  await placeOrder(page, "250,00", "New Year tree");
  await expect(
    page.getByRole("alert").filter({ hasText: "Order “New Year tree” paid: 250,00" }),
  ).toBeVisible();
  await expect(orderRow(page, "New Year tree").locator("[data-status]")).toHaveAttribute(
    "data-status",
    "FINISHED",
  );
  // The badge says it in the shop's words; the enum stays in data-status.
  await expect(orderRow(page, "New Year tree").locator("[data-status]")).toHaveText("Paid");
  await expect(page.getByTestId("balance")).toHaveText("750,00\u00a0₽");
});

test("a top-up made after the page read its balance but before its live feed started shows without a reload", async ({
  page,
}) => {
  const email = await register(page, webA());
  await openAccountAndTopUp(page, "10,00");
  await expect(page.getByTestId("balance")).toHaveText("10,00\u00a0₽");
  const { accessToken } = await apiClient(webA()).login(email, PASSWORD);
  const otherDevice = apiClient(webA(), accessToken);

  // What the page sends on its live socket is held back until the top-up is made: its subscriptions
  // start after the page has read the balance, and after the top-up.
  let holding = true;
  const held: Array<string | Buffer> = [];
  let send: (message: string | Buffer) => void = () => {};
  await page.routeWebSocket(/\/api\/trpc-ws/, (ws) => {
    const server = ws.connectToServer();
    send = (message) => server.send(message);
    ws.onMessage((message) => (holding ? held.push(message) : server.send(message)));
  });
  await page.reload();
  await expect(page.getByTestId("balance")).toHaveText("10,00\u00a0₽");
  await expect.poll(() => held.some((message) => String(message).includes("onBalanceChange"))).toBe(true);

  await otherDevice.topUp(5_00);
  holding = false;
  for (const message of held.splice(0)) send(message);
  await expect(page.getByTestId("balance")).toHaveText("15,00\u00a0₽");
});

test("the keyboard's first stop skips the header to the page", async ({ page }) => {
  await register(page, webA());
  await page.goto(webA());
  await expect(page.getByRole("heading", { name: "Shop" })).toBeVisible();
  await page.keyboard.press("Tab");
  const skip = page.getByRole("link", { name: "Skip to content" });
  await expect(skip).toBeFocused();
  await page.keyboard.press("Enter");
  await page.keyboard.press("Tab");
  // The next stop is on the page itself, not among the header's links.
  await expect(page.locator("#content :focus")).toHaveCount(1);
  await expect(page.locator("header :focus")).toHaveCount(0);
});

test("an order larger than the balance is cancelled for insufficient funds", async ({ page }) => {
  await register(page, webA());
  await openAccountAndTopUp(page, "100");
  await expect(page.getByTestId("balance")).toHaveText("100,00\u00a0₽");

  await placeOrder(page, "150,00", "Too expensive");
  await expect(
    page.getByRole("alert").filter({ hasText: "Order “Too expensive” cancelled: insufficient funds" }),
  ).toBeVisible();
  await expect(orderRow(page, "Too expensive").locator("[data-status]")).toHaveAttribute(
    "data-status",
    "CANCELLED",
  );
  await expect(orderRow(page, "Too expensive").locator("[data-status]")).toHaveText(
    "Cancelled · insufficient funds",
  );
  await expect(page.getByTestId("balance")).toHaveText("100,00\u00a0₽");
});

test("a settle toasts once per tab: back in the shop from the order's page, it does not toast again", async ({
  page,
}) => {
  await register(page, webA());
  await openAccountAndTopUp(page, "500");
  await placeOrder(page, "100", "Gift");
  const gift = page.getByRole("alert").filter({ hasText: "Order “Gift” paid" });
  await expect(gift).toBeVisible();
  await gift.getByRole("button", { name: "close" }).click();
  await expect(gift).toHaveCount(0);

  await orderRow(page, "Gift").getByRole("link").click();
  await expect(page.getByRole("heading", { name: "Gift" })).toBeVisible();
  await page.getByRole("link", { name: "← Back to the shop" }).click();
  // The feed hands changes over in log order: once the next order's toast shows, anything the shop's
  // feed replayed (the Gift's settle among it) has been handed over already.
  await placeOrder(page, "50", "Card");
  await expect(page.getByRole("alert").filter({ hasText: "Order “Card” paid" })).toBeVisible();
  // Counted now, not awaited: a second toast would close by itself a few seconds later.
  expect(await gift.count()).toBe(0);
});

test("a tab on an order's own page toasts the shopper's other orders too, a long description cut short", async ({
  page,
}) => {
  const email = await register(page, webA());
  await openAccountAndTopUp(page, "500");
  await expect(page.getByTestId("balance")).toHaveText("500,00\u00a0₽");
  await placeOrder(page, "100", "Gift wrap");
  await expect(orderRow(page, "Gift wrap").locator("[data-status]")).toHaveAttribute(
    "data-status",
    "FINISHED",
  );
  await orderRow(page, "Gift wrap").getByRole("link", { name: "Gift wrap" }).click();
  await expect(page.getByRole("heading", { name: "Gift wrap" })).toBeVisible();

  // Placed elsewhere (another tab, a phone) while this tab shows an older order.
  const long = `Garland of lights ${"and more lights ".repeat(10)}`.trim();
  const { accessToken } = await apiClient(webA()).login(email, PASSWORD);
  await apiClient(webA(), accessToken).createOrder(5_000, long);
  await apiClient(webA(), accessToken).createOrder(90_000, "Sleigh");

  const shown = `${Array.from(long).slice(0, 59).join("")}…`;
  await expect(page.getByRole("alert").filter({ hasText: `Order “${shown}” paid: 50,00` })).toBeVisible();
  await expect(
    page.getByRole("alert").filter({ hasText: "Order “Sleigh” cancelled: insufficient funds" }),
  ).toBeVisible();
  await expect(page.getByRole("alert").filter({ hasText: long })).toHaveCount(0);
});

test("an unknown address answers 404 with a page that leads back, and the app has an icon", async ({
  page,
}) => {
  const response = await page.goto(`${webA()}/no-such-page`);
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  await expect(page).toHaveTitle("Page not found · Gozon");
  const icon = await page.locator('link[rel="icon"]').first().getAttribute("href");
  expect(icon).toBeTruthy();
  const iconResponse = await page.request.get(new URL(icon ?? "", webA()).href);
  expect(iconResponse.status()).toBe(200);
  expect(iconResponse.headers()["content-type"]).toContain("image/svg+xml");
  // Signed out, the shop sends the visitor on to sign in.
  await page.getByRole("link", { name: "Back to the shop" }).click();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await expect(page).toHaveTitle("Sign in · Gozon");
});

test("a session that ends under an open page says so, and signing in leads back to that page", async ({
  page,
  context,
}) => {
  const email = await register(page, webA());
  await page.getByRole("button", { name: "Open account" }).click();
  await expect(page.getByTestId("balance")).toHaveText("0,00\u00a0₽");
  await placeOrder(page, "5", "Bookmark");
  await orderRow(page, "Bookmark").getByRole("link", { name: "Bookmark" }).click();
  await expect(page.getByRole("heading", { name: "Bookmark" })).toBeVisible();
  const orderUrl = page.url();
  // Named by its id, as the statement names it ("order 1a2b3c4d").
  await expect(page).toHaveTitle(`Order ${new URL(orderUrl).pathname.split("/")[2]?.slice(0, 8)} · Gozon`);

  // Both session cookies gone (expired, or cleared by the browser): the shop's next read is refused.
  await context.clearCookies();
  await page.getByRole("link", { name: "← Back to the shop" }).click();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await expect(page.getByRole("status")).toHaveText(
    "Your session has ended. Sign in again to go on where you were.",
  );
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Shop" })).toBeVisible();

  // A signed-out visit to a page of the app asks to sign in, without "ended", and then shows that page.
  await context.clearCookies();
  await page.goto(orderUrl);
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await expect(page.getByText("Your session has ended")).toHaveCount(0);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Bookmark" })).toBeVisible();
  await expect(page).toHaveURL(orderUrl);

  // Logging out on purpose is not a session that ended.
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await expect(page).toHaveURL(`${webA()}/login`);
  await expect(page.getByText("Your session has ended")).toHaveCount(0);
  // And after it, a page of the app still asks to sign in (within the same page load).
  await page.getByRole("link", { name: "Gozon" }).click();
  await expect(page).toHaveURL(`${webA()}/login?next=%2F`);
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
});

test("a sign-in link cannot send the shopper to another site, whatever its path hides", async ({ page }) => {
  // Were the app to follow the link, the browser would land here and the test would see this address.
  await page.route("**://evil.example/**", (route) =>
    route.fulfill({ contentType: "text/html", body: "evil" }),
  );
  const hostile = `${webA()}/login?next=${encodeURIComponent("/..//evil.example/x")}`;

  // Signed in already: the sign-in page leads on at once, and to the shop.
  const email = await register(page, webA());
  await page.goto(hostile);
  await expect(page.getByRole("heading", { name: "Shop" })).toBeVisible();
  await expect(page).toHaveURL(`${webA()}/`);

  // Signed out: signing in from the link leads to the shop too.
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await page.goto(hostile);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Shop" })).toBeVisible();
  await expect(page).toHaveURL(`${webA()}/`);
});

test("a log out that does not reach the server says so and keeps the user signed in; the next one works", async ({
  page,
}) => {
  const email = await register(page, webA());
  await page.route("**/api/trpc/auth.logout*", (route) => route.abort(), { times: 1 });
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "Logging out failed" })).toHaveText(
    "Logging out failed, so you are still signed in. The server could not be reached; check the connection and try again.",
  );
  // The session is the server's: had the page only forgotten the user, a reload would sign them back in.
  await page.reload();
  await expect(page.getByRole("heading", { name: "Shop" })).toBeVisible();
  await expect(page.getByRole("banner").getByText(email)).toBeVisible();

  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await page.reload();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
});

test("a refused registration or sign-in says why and puts the cursor where the fix goes", async ({
  page,
}) => {
  const email = await register(page, webA());
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();

  await page.goto(`${webA()}/register`);
  const password = page.getByLabel("Password");
  // The rule is said before anyone breaks it.
  await expect(password).toHaveAccessibleDescription("At least 8 characters.");
  await page.getByLabel("Email").fill(email.toUpperCase());
  await password.fill("short");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.locator("#password-error")).toHaveText("Password must be at least 8 characters");
  await expect(password).toBeFocused();
  await password.fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(
    page.getByRole("alert").filter({ hasText: "An account with this email already exists" }),
  ).toBeVisible();
  await expect(page.getByLabel("Email")).toBeFocused();

  await page.goto(`${webA()}/login`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "Wrong email or password" })).toBeVisible();
  await expect(page.getByLabel("Password")).toBeFocused();
});

test("a shopper who opens an admin page lands on the shop, told why", async ({ page }) => {
  await register(page, webA());
  await page.goto(`${webA()}/admin/orders`);
  await expect(page.getByRole("heading", { name: "Shop" })).toBeVisible();
  await expect(page.getByRole("status").filter({ hasText: "is for admins" })).toHaveText(
    "The page you opened is for admins, so here is your shop instead.",
  );
  // Nothing of the admin page was shown or read.
  await expect(page.getByRole("heading", { name: "Orders", exact: true })).toHaveCount(0);
});
