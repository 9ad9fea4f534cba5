import { randomBytes } from "node:crypto";
import { hash, verify } from "@node-rs/argon2";

// argon2id (the library's default algorithm) with OWASP's baseline: 19 MiB, 2 passes, 1 lane.
const OPTIONS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

/** False for a wrong password and for a hash this library cannot read; never throws on bad input. */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

/** Checks a password against a stored hash (injectable, so tests can count the hash checks). */
export type PasswordVerifier = (passwordHash: string, password: string) => Promise<boolean>;

let dummyHash: Promise<string> | undefined;

/**
 * Spends the time of one real verification when the email is unknown, so a failed login takes as
 * long whether or not the account exists.
 */
export async function verifyAgainstDummy(
  password: string,
  verify: PasswordVerifier = verifyPassword,
): Promise<false> {
  dummyHash ??= hashPassword(randomBytes(24).toString("base64url"));
  await verify(await dummyHash, password);
  return false;
}
