"use client";
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import { useEffect, useRef, useState, type FormEvent } from "react";
import { loginInputSchema } from "@gozon/api/routers/auth/login.schema";
import { registerInputSchema } from "@gozon/api/routers/auth/register.schema";
import { api, describeError, fieldMessage, type ApiErrorInfo } from "./api.ts";
import { Field } from "./field.tsx";
import { returnPath } from "./return-path.ts";
import { signOutArrived, useSession, useSignedIn } from "./session.ts";
import { useFocusOnError } from "./focus-on-error.ts";

const homeOf = (role: "SHOPPER" | "ADMIN") => (role === "ADMIN" ? "/admin/feed" : "/");

export function AuthForm({ mode }: { mode: "login" | "register" }) {
  const router = useRouter();
  const signedIn = useSignedIn();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<ApiErrorInfo | null>(null);
  const [busy, setBusy] = useState(false);
  const session = useSession();
  // The page that sent the visitor here (useRequireUser), and whether their session ended under it.
  const params = useSearchParams();
  const next = returnPath(params.get("next"));
  const ended = params.get("ended") === "1";
  const destination = (role: "SHOPPER" | "ADMIN") => next ?? homeOf(role);

  useEffect(signOutArrived, []);

  // A refused attempt puts the cursor where the fix goes: the first field at fault, else the password
  // (wrong credentials) or the email (already registered).
  const form = useRef<HTMLFormElement>(null);
  useFocusOnError(form, error ?? undefined, mode === "login" ? "#password" : "#email");

  // Already signed in (or just signed in): this page has nothing to do.
  const current = session.data;
  useEffect(() => {
    if (current) router.replace(next ?? homeOf(current.role));
  }, [current, router, next]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    // The server's own rules for credentials, checked before the round trip.
    const checked = (mode === "login" ? loginInputSchema : registerInputSchema).safeParse({
      email,
      password,
    });
    if (!checked.success) {
      const fields: Record<string, string> = {};
      for (const issue of checked.error.issues) fields[String(issue.path[0] ?? "form")] ??= issue.message;
      setError({ message: "Check the highlighted fields", fields });
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const call = mode === "login" ? api.auth.login : api.auth.register;
      const { user } = await call.mutate({ email, password });
      await signedIn(user);
      router.replace(destination(user.role));
    } catch (caught) {
      setError(describeError(caught));
      setBusy(false);
    }
  };

  const title = mode === "login" ? "Sign in" : "Create account";
  return (
    <main className="narrow">
      <h1>{title}</h1>
      {ended && mode === "login" && (
        <p role="status" className="notice">
          Your session has ended. Sign in again to go on where you were.
        </p>
      )}
      <form ref={form} onSubmit={submit} noValidate>
        <Field
          id="email"
          label="Email"
          type="email"
          autoComplete="email"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          error={fieldMessage("Email", error?.fields.email)}
          required
        />
        <Field
          id="password"
          label="Password"
          type="password"
          autoComplete={mode === "login" ? "current-password" : "new-password"}
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={fieldMessage("Password", error?.fields.password)}
          hint={mode === "register" ? "At least 8 characters." : undefined}
          minLength={8}
          maxLength={128}
          required
        />
        {error && Object.keys(error.fields).length === 0 && (
          <p className="form-error" role="alert">
            {error.message}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? "Please wait…" : title}
        </button>
      </form>
      <p>
        {mode === "login" ? (
          <>
            New here? <Link href="/register">Register</Link>
          </>
        ) : (
          <>
            Have an account? <Link href="/login">Sign in</Link>
          </>
        )}
      </p>
    </main>
  );
}
