import { TRPCError } from "@trpc/server";
import type { IdentityClient } from "@gozon/db/clients";
import type { Role, User } from "@gozon/db/generated/identity/client";
import { hashPassword } from "./passwords.ts";
import type { PublicUser } from "./schemas.ts";

export type { Role, User };

/** The one normal form of an email: what the database stores and compares. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function toPublicUser(user: Pick<User, "id" | "email" | "role">): PublicUser {
  return { id: user.id, email: user.email, role: user.role };
}

export function isUniqueViolation(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === "P2002";
}

export function emailTaken(): TRPCError {
  return new TRPCError({ code: "CONFLICT", message: "An account with this email already exists" });
}

/** Creates a user; a taken email (in any letter case) is a CONFLICT. */
export async function createUser(
  db: IdentityClient,
  input: { email: string; password: string; role: Role },
): Promise<User> {
  const passwordHash = await hashPassword(input.password);
  try {
    return await db.user.create({
      data: { email: normalizeEmail(input.email), passwordHash, role: input.role },
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw emailTaken();
    throw error;
  }
}

export function findUserByEmail(db: IdentityClient, email: string): Promise<User | null> {
  return db.user.findUnique({ where: { email: normalizeEmail(email) } });
}

export function findUserById(db: IdentityClient, id: string): Promise<User | null> {
  return db.user.findUnique({ where: { id } });
}

/**
 * `contains` becomes `LIKE '%…%'` with the text as given (prisma/prisma#19506): `_` and `%` in it would
 * match any character(s). Backslash, LIKE's default escape character in Postgres, makes each literal.
 */
const likeLiteral = (text: string) => text.replace(/[\\%_]/g, (char) => `\\${char}`);

/**
 * Users whose email contains `fragment`, ordered by email, `limit` per page after `cursor` (an email);
 * `nextCursor` is the last email of the page when more follow (the API wraps it in an opaque cursor).
 */
export async function searchUsers(
  db: IdentityClient,
  { fragment, limit, cursor }: { fragment?: string; limit: number; cursor?: string },
): Promise<{ users: User[]; nextCursor: string | null }> {
  const rows = await db.user.findMany({
    where: {
      ...(fragment ? { email: { contains: likeLiteral(normalizeEmail(fragment)) } } : {}),
      ...(cursor ? { AND: [{ email: { gt: cursor } }] } : {}),
    },
    orderBy: { email: "asc" },
    take: limit + 1,
  });
  const users = rows.slice(0, limit);
  const nextCursor = rows.length > limit ? (users.at(-1)?.email ?? null) : null;
  return { users, nextCursor };
}

/** The emails of these users, in one query; an unknown id is simply absent from the map. */
export async function emailsOf(db: IdentityClient, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db.user.findMany({
    where: { id: { in: [...new Set(ids)] } },
    select: { id: true, email: true },
  });
  return new Map(rows.map((row) => [row.id, row.email]));
}
