import type { Config } from "@gozon/core/config";
import type { Logger } from "@gozon/core/logger";
import type { IdentityClient } from "@gozon/db/clients";
import { hashPassword, verifyPassword } from "./passwords.ts";
import { isUniqueViolation, normalizeEmail } from "./users.ts";

export type BootstrapOutcome =
  { action: "skipped" } | { action: "created" | "updated" | "unchanged"; userId: string; email: string };

type BootstrapDeps = {
  config: Pick<Config, "ADMIN_EMAIL" | "ADMIN_PASSWORD">;
  identityDb: IdentityClient;
  log: Logger;
};

/**
 * Makes the account named by ADMIN_EMAIL an admin whose password is ADMIN_PASSWORD. Idempotent and
 * safe to run from several processes at once: the first start creates it, later starts only fix what
 * differs (a changed password, or a role changed by hand), revoking old sessions when the password
 * changes.
 */
export async function bootstrapAdmin(deps: BootstrapDeps): Promise<BootstrapOutcome> {
  const { ADMIN_EMAIL, ADMIN_PASSWORD } = deps.config;
  if (ADMIN_EMAIL === undefined || ADMIN_PASSWORD === undefined) return { action: "skipped" };
  const email = normalizeEmail(ADMIN_EMAIL);
  const db = deps.identityDb;

  for (let attempt = 0; ; attempt++) {
    const existing = await db.user.findUnique({ where: { email } });
    if (!existing) {
      try {
        const created = await db.user.create({
          data: { email, passwordHash: await hashPassword(ADMIN_PASSWORD), role: "ADMIN" },
        });
        deps.log.info({ userId: created.id, email }, "bootstrap admin created");
        return { action: "created", userId: created.id, email };
      } catch (error) {
        // Another process created it between our read and write: go round and update instead.
        if (isUniqueViolation(error) && attempt === 0) continue;
        throw error;
      }
    }

    const passwordMatches = await verifyPassword(existing.passwordHash, ADMIN_PASSWORD);
    if (passwordMatches && existing.role === "ADMIN") {
      return { action: "unchanged", userId: existing.id, email };
    }
    if (existing.role !== "ADMIN") {
      deps.log.warn(
        { userId: existing.id, email },
        "ADMIN_EMAIL belonged to a shopper; promoting it to admin",
      );
    }
    const passwordHash = passwordMatches ? undefined : await hashPassword(ADMIN_PASSWORD);
    await db.$transaction(async (tx) => {
      await tx.user.update({ where: { id: existing.id }, data: { role: "ADMIN", passwordHash } });
      // Whoever held a session under the old password or role signs in again.
      await tx.refreshToken.updateMany({
        where: { userId: existing.id, revokedAt: null },
        data: { revokedAt: new Date() },
      });
    });
    deps.log.info(
      { userId: existing.id, email, passwordChanged: !passwordMatches },
      "bootstrap admin updated",
    );
    return { action: "updated", userId: existing.id, email };
  }
}
