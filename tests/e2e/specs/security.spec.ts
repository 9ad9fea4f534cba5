import { expect, test, type Page } from "@playwright/test";
import { ADMIN, PASSWORD, register, signIn, uniqueEmail, webA } from "./helpers.ts";

/**
 * Collects every Content-Security-Policy violation the page reports (the `securitypolicyviolation`
 * event, installed before any script of the page runs) and every console error.
 */
async function watchViolations(page: Page) {
  const console: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") console.push(message.text());
  });
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { __cspViolations: string[] }).__cspViolations = seen;
    document.addEventListener("securitypolicyviolation", (event) => {
      seen.push(`${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  return {
    async violations() {
      const fromPage = await page.evaluate(
        () => (window as unknown as { __cspViolations?: string[] }).__cspViolations ?? [],
      );
      return [...fromPage, ...console.filter((text) => /Content Security Policy/i.test(text))];
    },
  };
}

test("pages run under the nonce CSP without a violation: register, sign out, sign in", async ({ page }) => {
  const watch = await watchViolations(page);
  const response = await page.goto(`${webA()}/login`);
  expect(response?.headers()["content-security-policy"]).toMatch(/script-src 'self' 'nonce-/);
  expect(response?.headers()["x-frame-options"]).toBe("DENY");

  const email = await register(page, webA(), uniqueEmail("csp"));
  // The live socket connects under connect-src 'self' (the page would show the offline state otherwise).
  await page.getByRole("button", { name: "Open account" }).waitFor();
  await page.context().clearCookies();
  await signIn(page, webA(), email, PASSWORD);
  await expect(page.getByRole("heading", { name: "Shop" })).toBeVisible();
  expect(await watch.violations()).toEqual([]);
});

test("markup injected into a page cannot run a script (the policy is enforced)", async ({ page }) => {
  const watch = await watchViolations(page);
  // Stands in for an XSS hole: the server's own response, with the page's CSP, plus injected markup.
  await page.route(`${webA()}/login`, async (route) => {
    const response = await route.fetch();
    const html = (await response.text()).replace(
      "<body>",
      '<body><script>window.__injected = true</script><img src="x" onerror="window.__injected = true">',
    );
    await route.fulfill({ response, body: html });
  });
  await page.goto(`${webA()}/login`);
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
  expect(
    await page.evaluate(() => (window as unknown as { __injected?: boolean }).__injected),
  ).toBeUndefined();
  expect((await watch.violations()).filter((v) => v.startsWith("script-src")).length).toBeGreaterThan(0);
});

test("Swagger UI at /api/docs works under its CSP", async ({ page }) => {
  const watch = await watchViolations(page);
  await page.goto(`${webA()}/api/docs`);
  await expect(page.getByText("/auth/login").first()).toBeVisible();
  expect(await watch.violations()).toEqual([]);
});

test("the queue board (Bull Board) works for an admin under its CSP", async ({ page }) => {
  const watch = await watchViolations(page);
  await signIn(page, webA(), ADMIN.email, ADMIN.password);
  await expect(page.getByRole("heading", { name: "Live order feed" })).toBeVisible();
  const response = await page.goto(`${webA()}/api/admin/queues`);
  expect(response?.headers()["content-security-policy"]).toContain("script-src 'self'");
  await expect(page.getByText("payments.requests").first()).toBeVisible();
  // Only its Google Fonts stylesheet is refused, on purpose (see queue-board.ts).
  const violations = await watch.violations();
  expect(violations.length).toBeGreaterThan(0);
  expect(violations.filter((v) => !v.includes("https://fonts.googleapis.com/"))).toEqual([]);
});
