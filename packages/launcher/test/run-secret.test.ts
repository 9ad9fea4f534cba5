// `npm start` in development gives its processes a random token secret, never the one in the repository,
// and every launcher started from the same folder (`PORT=3001 npm run start:web`) shares it.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { KNOWN_DEVELOPMENT_SECRETS } from "@gozon/core/config";
import { withRunSecret } from "../src/run-secret.ts";

const made: string[] = [];
const dataDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gozon-secret-"));
  made.push(dir);
  return path.join(dir, ".data"); // not there yet, as on a fresh clone
};
afterEach(() => {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

const development = (DATA_DIR: string) => ({ NODE_ENV: "development" as const, DATA_DIR });

describe("withRunSecret", () => {
  it("gives a development run without JWT_SECRET a random secret of 32 bytes, kept in DATA_DIR", () => {
    const dir = dataDir();
    const first = withRunSecret({ PORT: "3000" }, development(dir));
    expect(first.JWT_SECRET).toMatch(/^[0-9a-f]{64}$/);
    expect(KNOWN_DEVELOPMENT_SECRETS.has(first.JWT_SECRET!)).toBe(false);
    expect(first.PORT).toBe("3000");
    const file = path.join(dir, "jwt-secret");
    expect(fs.readFileSync(file, "utf8").trim()).toBe(first.JWT_SECRET);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);

    // A second launcher in the same folder (one more web instance, or a restart) signs with the same.
    expect(withRunSecret({ PORT: "3001" }, development(dir)).JWT_SECRET).toBe(first.JWT_SECRET);
    // Another folder, another secret.
    expect(withRunSecret({}, development(dataDir())).JWT_SECRET).not.toBe(first.JWT_SECRET);
  });

  it("gives a development run without MESSAGE_SIGNING_KEY a random key of its own, kept in DATA_DIR", () => {
    const dir = dataDir();
    const first = withRunSecret({}, development(dir));
    expect(first.MESSAGE_SIGNING_KEY).toMatch(/^[0-9a-f]{64}$/);
    expect(first.MESSAGE_SIGNING_KEY).not.toBe(first.JWT_SECRET);
    expect(KNOWN_DEVELOPMENT_SECRETS.has(first.MESSAGE_SIGNING_KEY!)).toBe(false);
    const file = path.join(dir, "message-signing-key");
    expect(fs.readFileSync(file, "utf8").trim()).toBe(first.MESSAGE_SIGNING_KEY);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    // Every process started from this folder signs and checks with the same key.
    expect(withRunSecret({ PORT: "3001" }, development(dir)).MESSAGE_SIGNING_KEY).toBe(
      first.MESSAGE_SIGNING_KEY,
    );
    const given = "d".repeat(64);
    expect(withRunSecret({ MESSAGE_SIGNING_KEY: given }, development(dir)).MESSAGE_SIGNING_KEY).toBe(given);
  });

  it("launchers starting at once in a fresh folder agree on one secret", async () => {
    const dir = dataDir();
    const module = JSON.stringify(fileURLToPath(new URL("../src/run-secret.ts", import.meta.url)));
    const script = `import { withRunSecret } from ${module};
      process.stdout.write(withRunSecret({}, { NODE_ENV: "development", DATA_DIR: process.argv[1] }).JWT_SECRET);`;
    const launch = () =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, [
          "--import",
          "tsx",
          "--input-type=module",
          "--eval",
          script,
          dir,
        ]);
        let out = "";
        child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
        child.stderr.pipe(process.stderr);
        child.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}`))));
      });
    const secrets = await Promise.all(Array.from({ length: 6 }, launch));
    expect(secrets[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(secrets)).toEqual(new Set([secrets[0]]));
    expect(fs.readdirSync(dir).sort()).toEqual(["jwt-secret", "message-signing-key"]); // no drafts left behind
  }, 30_000);

  it("refuses a secret file that is not one, or that others could have written, instead of signing with it", () => {
    const dir = dataDir();
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, "jwt-secret");
    fs.writeFileSync(file, "secret\n", { mode: 0o600 });
    expect(() => withRunSecret({}, development(dir))).toThrow(/jwt-secret is not a token secret/);

    // Readable or writable by others (a shared folder): not a secret of this user's.
    fs.writeFileSync(file, "b".repeat(64) + "\n");
    fs.chmodSync(file, 0o644);
    expect(() => withRunSecret({}, development(dir))).toThrow(/only you can read \(mode 600\)/);

    // A link, to a secret elsewhere or to nothing at all: refused, never followed (nor looped on).
    fs.rmSync(file);
    const elsewhere = path.join(path.dirname(dir), "theirs");
    fs.writeFileSync(elsewhere, "c".repeat(64) + "\n", { mode: 0o600 });
    fs.symlinkSync(elsewhere, file);
    expect(() => withRunSecret({}, development(dir))).toThrow(/jwt-secret is a link/);
    fs.rmSync(elsewhere);
    expect(() => withRunSecret({}, development(dir))).toThrow(/jwt-secret is a link/);
  });

  it("keeps a secret that was given, and leaves production and tests to their own rules", () => {
    const dir = dataDir();
    const given = "a".repeat(64);
    const both = { JWT_SECRET: given, MESSAGE_SIGNING_KEY: given };
    expect(withRunSecret(both, development(dir)).JWT_SECRET).toBe(given);
    for (const NODE_ENV of ["production", "test"] as const) {
      const env = withRunSecret({}, { NODE_ENV, DATA_DIR: dir });
      expect(env.JWT_SECRET).toBeUndefined();
      expect(env.MESSAGE_SIGNING_KEY).toBeUndefined();
    }
    expect(fs.existsSync(dir)).toBe(false);
  });
});
