import { Suspense } from "react";
import { AuthForm } from "../../src/client/auth-form.tsx";
import { pageTitle } from "../../src/page-title.ts";

export const metadata = pageTitle("Create account");

export default function RegisterPage() {
  // AuthForm reads the query (where to go back to), which Next asks to be under a Suspense boundary.
  return (
    <Suspense>
      <AuthForm mode="register" />
    </Suspense>
  );
}
