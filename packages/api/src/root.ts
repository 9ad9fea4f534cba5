import { adminRouter } from "./routers/admin/admin.router.ts";
import { authRouter } from "./routers/auth/auth.router.ts";
import { createCallerFactory, router } from "./trpc.ts";

export const appRouter = router({
  auth: authRouter,
  admin: adminRouter,
});

export type AppRouter = typeof appRouter;

/** Server-side calls without HTTP (tests, scripts): `createCaller(ctx).auth.me()`. */
export const createCaller = createCallerFactory(appRouter);
