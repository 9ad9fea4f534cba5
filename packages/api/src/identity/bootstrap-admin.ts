import type { Config } from "@gozon/core/config";
import type { Logger } from "@gozon/core/logger";
import type { IdentityClient } from "@gozon/db/clients";
import { hashPassword, verifyPassword } from "./passwords.ts";
import { isUniqueViolation, normalizeEmail, type User } from "./users.ts";

export type BootstrapOutcome =
  | { action: "skipped" }
  | { action: "created"; userId: string; email: string }
  | { action: "exists"; userId: string; email: string; role: User["role"]; passwordMatches: boolean };

type BootstrapDeps = {
  config: Pick<Config, "ADMIN_EMAIL" | "ADMIN_PASSWORD">;
  identityDb: IdentityClient;
  log: Logger;
};

/**
 * Creates the admin named by ADMIN_EMAIL with ADMIN_PASSWORD when no account has that email. An
 * existing account is never changed: a start-up variable must not silently reset a password someone
 * changed since, or turn a shopper into an admin; the outcome is logged instead. Safe to run from
 * several processes at once.
 */
export async function bootstrapAdmin(deps: BootstrapDeps): Promise<BootstrapOutcome> {
  const { ADMIN_EMAIL, ADMIN_PASSWORD } = deps.config;
  const db = deps.identityDb;
  if (ADMIN_EMAIL === undefined || ADMIN_PASSWORD === undefined) {
    // Only an admin can make another admin: with none, nobody ever could, and no account is topped up.
    if (!(await db.user.findFirst({ where: { role: "ADMIN" }, select: { id: true } }))) {
      deps.log.warn(
        "no admin exists and ADMIN_EMAIL is unset: nobody can top up accounts or make admins; " +
          "set ADMIN_EMAIL and ADMIN_PASSWORD and restart",
      );
    }
    return { action: "skipped" };
  }
  const email = normalizeEmail(ADMIN_EMAIL);

  let existing = await db.user.findUnique({ where: { email } });
  if (!existing) {
    try {
      const created = await db.user.create({
        data: { email, passwordHash: await hashPassword(ADMIN_PASSWORD), role: "ADMIN" },
      });
      deps.log.info({ userId: created.id, email }, "bootstrap admin created");
      return { action: "created", userId: created.id, email };
    } catch (error) {
      // Another process created it between our read and write.
      if (!isUniqueViolation(error)) throw error;
      existing = await db.user.findUniqueOrThrow({ where: { email } });
    }
  }

  const passwordMatches = await verifyPassword(existing.passwordHash, ADMIN_PASSWORD);
  const outcome = { userId: existing.id, email, role: existing.role, passwordMatches };
  if (existing.role !== "ADMIN") {
    deps.log.warn(outcome, "ADMIN_EMAIL names an existing shopper; left as a shopper (promote it by hand)");
  } else if (!passwordMatches) {
    deps.log.warn(outcome, "bootstrap admin exists with another password; its password is kept");
  } else {
    deps.log.info(outcome, "bootstrap admin exists");
  }
  return { action: "exists", ...outcome };
}
