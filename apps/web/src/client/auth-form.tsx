"use client";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { api, describeError, type ApiErrorInfo } from "./api.ts";
import { Field } from "./field.tsx";
import { useSignedIn } from "./session.ts";

export function AuthForm({ mode }: { mode: "login" | "register" }) {
  const router = useRouter();
  const signedIn = useSignedIn();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<ApiErrorInfo | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const call = mode === "login" ? api.auth.login : api.auth.register;
      const { user } = await call.mutate({ email, password });
      await signedIn(user);
      router.replace(user.role === "ADMIN" ? "/admin/feed" : "/");
    } catch (caught) {
      setError(describeError(caught));
      setBusy(false);
    }
  };

  const title = mode === "login" ? "Sign in" : "Create account";
  return (
    <main className="narrow">
      <h1>{title}</h1>
      <form onSubmit={submit} noValidate>
        <Field
          id="email"
          label="Email"
          type="email"
          autoComplete="email"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          error={error?.fields.email}
          required
        />
        <Field
          id="password"
          label="Password"
          type="password"
          autoComplete={mode === "login" ? "current-password" : "new-password"}
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={error?.fields.password}
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
