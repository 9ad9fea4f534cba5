// The test helper that cuts a connection (startTcpProxy): its restore() listens on the same port again,
// which another process may have taken during the cut; that must fail the test saying so, not crash the
// run with an uncaught 'error' event (or leave restore() pending forever).
import net from "node:net";
import { describe, expect, it } from "vitest";
import { freePort, startTcpProxy } from "../test-support/testing.ts";

function listenOn(port: number): Promise<net.Server> {
  const server = net.createServer();
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

describe("startTcpProxy", () => {
  it("restore() rejects, naming the port, when another process took it during the cut", async () => {
    // Nothing needs to answer upstream: no client connects through the proxy here.
    const proxy = await startTcpProxy("127.0.0.1", await freePort());
    await proxy.cut();
    const squatter = await listenOn(proxy.port);
    try {
      await expect(proxy.restore()).rejects.toThrow(
        new RegExp(`cannot listen on 127\\.0\\.0\\.1:${proxy.port} again \\(EADDRINUSE\\)`),
      );
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
    // Once the port is free again, the proxy can still come back.
    await proxy.restore();
    await proxy.close();
  }, 10_000);
});
