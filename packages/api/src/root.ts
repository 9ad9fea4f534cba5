import { adminRouter } from "./routers/admin/admin.router.ts";
import { authRouter } from "./routers/auth/auth.router.ts";
import { ordersRouter } from "./routers/orders/orders.router.ts";
import { paymentsRouter } from "./routers/payments/payments.router.ts";
import { createCallerFactory, router } from "./trpc.ts";

export const appRouter = router({
  auth: authRouter,
  admin: adminRouter,
  payments: paymentsRouter,
  orders: ordersRouter,
});

export type AppRouter = typeof appRouter;

/** Server-side calls without HTTP (tests, scripts): `createCaller(ctx).auth.me()`. */
export const createCaller = createCallerFactory(appRouter);
