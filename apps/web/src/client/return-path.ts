/**
 * Where a sign-in leads back to (`/login?next=…`): a path of this site, with its query and fragment, or
 * null. Anything that could leave the site (`//host`, `/\host`, `https:`, `javascript:`) is refused, so
 * the parameter cannot be used to send a visitor elsewhere after they sign in.
 */
export function returnPath(next: string | null | undefined): string | null {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return null;
  const base = "http://gozon.invalid";
  try {
    const url = new URL(next, base);
    if (url.origin !== base) return null;
    // Checked again after the URL's own normalisation: `/..//host` and `/%2e%2e//host` become `//host`,
    // which the router would resolve to another site.
    if (url.pathname.startsWith("//")) return null;
    // The sign-in pages themselves lead nowhere new.
    if (url.pathname === "/login" || url.pathname === "/register") return null;
    return `${url.pathname}${url.search}${url.hash}`;
  } catch {
    return null;
  }
}
