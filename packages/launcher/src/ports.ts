// The web's port, checked before anything starts. Taken by another program (or another Gozon), the web
// would die at start and again at each restart, for good, while the launcher's health check found
// whatever answers there and announced it as Gozon.
import net from "node:net";
import { InfraError } from "@gozon/core/infra/common";

export async function ensurePortFree(port: number, variable: string): Promise<void> {
  const inUse = await new Promise<boolean>((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", (err: NodeJS.ErrnoException) =>
      err.code === "EADDRINUSE" ? resolve(true) : reject(err),
    );
    // Where the web listens: every address (a program on 127.0.0.1 alone is found too).
    probe.listen(port, () => probe.close(() => resolve(false)));
  });
  if (inUse) {
    throw new InfraError(
      `port ${port} (${variable}) is in use, by another Gozon or another program: stop it, or set ${variable} to a free port`,
    );
  }
}
