import { Suspense } from "react";
import { AuthForm } from "../../src/client/auth-form.tsx";
import { pageTitle } from "../../src/page-title.ts";

export const metadata = pageTitle("Sign in");

export default function LoginPage() {
  // AuthForm reads the query (where to go back to), which Next asks to be under a Suspense boundary.
  return (
    <Suspense>
      <AuthForm mode="login" />
    </Suspense>
  );
}
