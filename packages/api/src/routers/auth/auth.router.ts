import { noInputSchema } from "../../inputs.ts";
import { protectedProcedure, publicProcedure, router } from "../../trpc.ts";
import { changePasswordHandler } from "./changePassword.handler.ts";
import { changePasswordInputSchema, changePasswordOutputSchema } from "./changePassword.schema.ts";
import { loginHandler } from "./login.handler.ts";
import { loginInputSchema, loginOutputSchema } from "./login.schema.ts";
import { logoutHandler } from "./logout.handler.ts";
import { logoutInputSchema, logoutOutputSchema } from "./logout.schema.ts";
import { meHandler } from "./me.handler.ts";
import { meOutputSchema } from "./me.schema.ts";
import { refreshHandler } from "./refresh.handler.ts";
import { refreshInputSchema, refreshOutputSchema } from "./refresh.schema.ts";
import { registerHandler } from "./register.handler.ts";
import { registerInputSchema, registerOutputSchema } from "./register.schema.ts";

const tags = ["auth"];

export const authRouter = router({
  register: publicProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/register",
        tags,
        protect: false,
        summary: "Create a shopper account and sign in",
        successDescription: "Created",
        errorResponses: { 400: "Invalid input", 409: "Email taken", 429: "Too many attempts" },
      },
      successStatus: 201,
    })
    .input(registerInputSchema)
    .output(registerOutputSchema)
    .mutation(registerHandler),

  login: publicProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/login",
        tags,
        protect: false,
        summary: "Sign in with email and password",
        errorResponses: { 400: "Invalid input", 401: "Wrong email or password", 429: "Too many attempts" },
      },
    })
    .input(loginInputSchema)
    .output(loginOutputSchema)
    .mutation(loginHandler),

  refresh: publicProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/refresh",
        tags,
        protect: false,
        summary: "Exchange a refresh token (body or cookie) for a new token pair",
        errorResponses: { 401: "Missing, expired, revoked or reused refresh token" },
      },
    })
    .input(refreshInputSchema)
    .output(refreshOutputSchema)
    .mutation(refreshHandler),

  logout: publicProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/logout",
        tags,
        protect: false,
        summary:
          "End the session of the refresh token (body or cookie) and of the bearer token, and clear the cookies",
      },
    })
    .input(logoutInputSchema)
    .output(logoutOutputSchema)
    .mutation(logoutHandler),

  me: protectedProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/auth/me",
        tags,
        summary: "The signed-in user",
        errorResponses: { 400: "Invalid input", 401: "Not signed in" },
      },
    })
    .input(noInputSchema)
    .output(meOutputSchema)
    .query(meHandler),

  changePassword: protectedProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/auth/password",
        tags,
        summary: "Change the password: every session of the user ends, and a new one starts for this caller",
        errorResponses: {
          400: "Invalid input, or currentPassword is not the account's password",
          401: "Not signed in",
          429: "Too many attempts",
        },
      },
    })
    .input(changePasswordInputSchema)
    .output(changePasswordOutputSchema)
    .mutation(changePasswordHandler),
});
