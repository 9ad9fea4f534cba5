"use client";
import { useMutation } from "@tanstack/react-query";
import { useRef, useState, type FormEvent } from "react";
import { createAdminInputSchema } from "@gozon/api/routers/admin/createAdmin.schema";
import { api, describeError, fieldMessage } from "../../../src/client/api.ts";
import { Field } from "../../../src/client/field.tsx";
import { useFocusOnError } from "../../../src/client/focus-on-error.ts";
import { Waiting } from "../../../src/client/waiting.tsx";
import { useRequireUser } from "../../../src/client/session.ts";

type Errors = { email?: string; password?: string; form?: string };

/** An admin makes another admin; a taken email is refused (a shopper is never promoted silently). */
export default function CreateAdminPage() {
  const { user, session } = useRequireUser({ admin: true });
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<Errors>({});
  const [created, setCreated] = useState<string>();
  const form = useRef<HTMLFormElement>(null);
  useFocusOnError(form, Object.values(errors).some(Boolean) ? errors : undefined, "#admin-email");
  const create = useMutation({
    mutationFn: (input: { email: string; password: string }) => api.admin.createAdmin.mutate(input),
    onSuccess: ({ user: admin }) => {
      setCreated(`Admin ${admin.email} created: they can sign in now.`);
      setEmail("");
      setPassword("");
    },
    onError: (caught) => {
      const info = describeError(caught);
      setErrors({
        email: fieldMessage("Email", info.fields.email),
        password: fieldMessage("Password", info.fields.password),
        form: Object.keys(info.fields).length ? undefined : info.message,
      });
    },
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setCreated(undefined);
    // The server's own rules for new credentials, checked before the round trip.
    const checked = createAdminInputSchema.safeParse({ email, password });
    if (!checked.success) {
      const next: Errors = {};
      for (const issue of checked.error.issues) {
        const field = issue.path[0];
        if (field === "email" || field === "password")
          next[field] ??= fieldMessage(field === "email" ? "Email" : "Password", issue.message);
      }
      setErrors(next);
      return;
    }
    setErrors({});
    create.mutate(checked.data);
  };

  if (!user) return <Waiting error={session.error} retry={() => void session.refetch()} />;
  return (
    <main className="narrow">
      <h1>Create an admin</h1>
      <p>The new admin signs in with this email and password and can do everything you can.</p>
      <form ref={form} onSubmit={submit} noValidate>
        <Field
          id="admin-email"
          label="New admin's email"
          type="email"
          autoComplete="off"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          error={errors.email}
        />
        <Field
          id="admin-password"
          label="New admin's password"
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={errors.password}
        />
        {errors.form && (
          <p className="form-error" role="alert">
            {errors.form}
          </p>
        )}
        <button type="submit" disabled={create.isPending}>
          {create.isPending ? "Creating…" : "Create admin"}
        </button>
      </form>
      <p role="status">{created}</p>
    </main>
  );
}
