// `npm start` with the web's port already taken: it stops at once and says which port, before it starts
// or migrates anything, instead of restarting a web that cannot listen and announcing whoever answers.
import net from "node:net";
import { afterAll, expect, it } from "vitest";
import { freePort, waitFor } from "@gozon/core/testing";
import { startLauncher } from "./launch.ts";

const unused = "postgres://postgres@127.0.0.1:1/never-reached";
let other: net.Server | undefined;
afterAll(() => other?.close());

it("refuses to start when PORT is in use, naming the port and the variable", async () => {
  const port = await freePort();
  other = net.createServer();
  await new Promise<void>((resolve) => other!.listen(port, "127.0.0.1", resolve));
  const launcher = startLauncher(
    "web",
    { orders: unused, payments: unused, identity: unused },
    {
      PORT: String(port),
    },
  );
  await waitFor(() => launcher.child.exitCode ?? undefined, { what: "the launcher to exit" });
  expect(launcher.child.exitCode).toBe(1);
  expect(launcher.output()).toContain(`gozon: port ${port} (PORT) is in use`);
  expect(launcher.output()).not.toMatch(/Postgres:|migrat|web started/);
});
