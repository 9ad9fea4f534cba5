import { startSystem } from "@gozon/system-tests/system";

/** Starts the real system for the browser tests; its URLs reach the tests through the environment. */
export default async function globalSetup() {
  const system = await startSystem({ webInstances: 2 });
  process.env.GOZON_WEB_A = system.webUrls[0];
  process.env.GOZON_WEB_B = system.webUrls[1];
  return async () => {
    await system.stop();
  };
}
