// Makes package-lock.json complete for every platform, so `npm ci` works from a fresh clone.
//
// Some registries (mirrors, offline caches) lack other platforms' native builds (e.g. @turbo/darwin-64,
// @next/swc-win32-x64-msvc). `npm install` then leaves them out of the lockfile, and `npm ci` refuses the
// lockfile as out of sync. This script adds each missing optional dependency as an entry with its
// version and the os/cpu its name declares; npm skips it on other platforms and, on its own platform,
// fetches it by name and version. Run it after `npm install` changes the lockfile.
import { readFileSync, writeFileSync } from "node:fs";

const file = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(file, "utf8"));
const packages = lock.packages;

const osOf = (name) =>
  /darwin/.test(name) ? "darwin" : /win32|windows/.test(name) ? "win32" : /linux/.test(name) ? "linux" : null;
const cpuOf = (name) =>
  /arm64/.test(name)
    ? "arm64"
    : /-arm(\b|-)|-arm$/.test(name)
      ? "arm"
      : /x64|-64\b|-64$/.test(name)
        ? "x64"
        : null;

let added = 0;
for (const [location, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const nested = `${location}/node_modules/${name}`;
    const hoisted = `node_modules/${name}`;
    if (packages[nested] || packages[hoisted]) continue;
    const os = osOf(name);
    const cpu = cpuOf(name);
    if (!os || !cpu) throw new Error(`cannot tell the platform of ${name}; add it by hand`);
    packages[hoisted] = {
      version,
      cpu: [cpu],
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      os: [os],
    };
    added++;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))),
);
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lockfile: added ${added} missing platform entr${added === 1 ? "y" : "ies"}`);
