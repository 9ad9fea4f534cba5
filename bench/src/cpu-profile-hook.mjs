// Loaded into the system's processes with `--import` (through NODE_OPTIONS) when the bench runs with
// --cpu-profile: each SIGUSR2 toggles V8's sampling profiler, and stopping writes
// <BENCH_CPU_PROFILE_DIR>/<pid>-<n>.cpuprofile. So a profile covers exactly the window the bench chose.
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import path from "node:path";
import process from "node:process";

const dir = process.env.BENCH_CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  let running = false;
  let count = 0;
  process.on("SIGUSR2", () => {
    if (!running) {
      running = true;
      session.post("Profiler.enable", () => session.post("Profiler.start"));
      return;
    }
    running = false;
    session.post("Profiler.stop", (error, result) => {
      if (error) return;
      writeFileSync(path.join(dir, `${process.pid}-${++count}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
