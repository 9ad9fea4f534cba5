// Opt-in (--cpu-profile): V8 CPU profiles of the system's processes over one measured window, summed by
// where the code lives (a package, a workspace, Node's core, the garbage collector). It answers "what
// does an order's CPU go to" — the hop timings say where it waits, this says what it burns.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { waitFor } from "@gozon/core/testing";

type ProfileNode = {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
};
type CpuProfile = { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };

export type CpuBreakdown = {
  process: string;
  /** Sampled CPU time in the window, ms (idle samples left out). */
  busyMs: number;
  byPlace: Array<{ place: string; ms: number; share: number }>;
  topFunctions: Array<{ fn: string; place: string; ms: number; share: number }>;
};

/** Environment for startSystem that loads the hook into every process it starts. */
export function cpuProfileEnv(benchDir: string, outDir: string): Record<string, string> {
  const hook = pathToFileURL(path.join(benchDir, "src/cpu-profile-hook.mjs")).href;
  return {
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import ${hook}`.trim(),
    BENCH_CPU_PROFILE_DIR: outDir,
  };
}

/** Starts (or, the second time, stops) the profilers of `pids`; stopping waits for the files. */
export async function toggleProfilers(pids: number[], outDir: string, stopping: boolean) {
  const before = new Set(fs.readdirSync(outDir));
  for (const pid of pids) process.kill(pid, "SIGUSR2");
  if (!stopping) return;
  await waitFor(() => fs.readdirSync(outDir).filter((f) => !before.has(f)).length >= pids.length, {
    timeoutMs: 30_000,
    what: "the CPU profiles to be written",
  });
}

/** Where a frame's code lives: a package name, a workspace, node core, or a V8 pseudo-frame. */
function placeOf(frame: ProfileNode["callFrame"], repoRoot: string): string {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName === "(garbage collector)") return "(garbage collector)";
    if (functionName === "(program)") return "(V8/native: program)";
    return functionName || "(native)";
  }
  if (url.startsWith("node:")) return "node core";
  if (url.startsWith("wasm://")) return "wasm";
  const file = url.startsWith("file://") ? decodeURIComponent(new URL(url).pathname) : url;
  const modules = file.lastIndexOf("/node_modules/");
  if (modules >= 0) {
    const parts = file.slice(modules + "/node_modules/".length).split("/");
    return parts[0]?.startsWith("@") ? `${parts[0]}/${parts[1]}` : (parts[0] ?? file);
  }
  const relative = path.relative(repoRoot, file);
  const generated = /packages\/db\/src\/generated\//.test(relative);
  const match = /^(apps|packages)\/([^/]+)\//.exec(relative);
  if (match) return generated ? "@gozon/db (generated Prisma client)" : `${match[1]}/${match[2]}`;
  return relative.startsWith("..") ? file : relative;
}

export function summarizeProfile(file: string, name: string, repoRoot: string, top = 12): CpuBreakdown {
  const profile = JSON.parse(fs.readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  // Node core and native code (socket writes, JSON, crypto) are charged to the nearest caller that is a
  // package or a workspace: "pg 12%" then includes the socket writes pg asked for.
  const attributed = new Map<number, string>();
  const ownerOf = (id: number): string => {
    const known = attributed.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id) as ProfileNode;
    const own = placeOf(node.callFrame, repoRoot);
    const passThrough = own === "node core" || (!node.callFrame.url && !own.startsWith("("));
    const up = parent.get(id);
    const owner = passThrough && up !== undefined ? ownerOf(up) : own;
    attributed.set(id, owner === "(root)" ? own : owner);
    return attributed.get(id) as string;
  };
  const places = new Map<string, number>();
  const functions = new Map<string, { place: string; ms: number }>();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    // The first delta runs from the profile's start time to the first sample: not a sample's worth.
    const ms = i === 0 ? 0 : (profile.timeDeltas[i] ?? 0) / 1000;
    if (!node || node.callFrame.functionName === "(idle)") return;
    busy += ms;
    const place = ownerOf(id);
    places.set(place, (places.get(place) ?? 0) + ms);
    const fnName = node.callFrame.functionName || "(anonymous)";
    const line = node.callFrame.url ? `:${node.callFrame.lineNumber + 1}` : "";
    const key = `${fnName} ${path.basename(node.callFrame.url)}${line}`;
    const entry = functions.get(key) ?? { place, ms: 0 };
    entry.ms += ms;
    functions.set(key, entry);
  });
  const share = (ms: number) => Math.round((ms / busy) * 1000) / 10;
  return {
    process: name,
    busyMs: Math.round(busy),
    byPlace: [...places]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([place, ms]) => ({ place, ms: Math.round(ms), share: share(ms) })),
    topFunctions: [...functions]
      .sort((a, b) => b[1].ms - a[1].ms)
      .slice(0, top)
      .map(([fn, { place, ms }]) => ({ fn, place, ms: Math.round(ms), share: share(ms) })),
  };
}
