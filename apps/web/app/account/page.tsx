"use client";
import { useMutation } from "@tanstack/react-query";
import { useRef, useState, type FormEvent } from "react";
import { changePasswordInputSchema } from "@gozon/api/routers/auth/changePassword.schema";
import { api, describeError, fieldMessage } from "../../src/client/api.ts";
import { Field } from "../../src/client/field.tsx";
import { useFocusOnError } from "../../src/client/focus-on-error.ts";
import { useRequireUser, useSignedIn } from "../../src/client/session.ts";
import { Waiting } from "../../src/client/waiting.tsx";

type Errors = { currentPassword?: string; newPassword?: string; confirmation?: string; form?: string };
const LABELS = { currentPassword: "Current password", newPassword: "New password" } as const;

/**
 * The signed-in user's own account: a new password. Changing it signs out every device (one that had
 * the old password, a thief's too); this browser goes on in a new session.
 */
export default function AccountPage() {
  const { user, session } = useRequireUser();
  const signedIn = useSignedIn();
  const [currentPassword, setCurrentPassword] = useState("");
  const [newPassword, setNewPassword] = useState("");
  const [confirmation, setConfirmation] = useState("");
  const [errors, setErrors] = useState<Errors>({});
  const [changed, setChanged] = useState<string>();
  const form = useRef<HTMLFormElement>(null);
  useFocusOnError(form, Object.values(errors).some(Boolean) ? errors : undefined, "#current-password");
  const change = useMutation({
    mutationFn: (input: { currentPassword: string; newPassword: string }) =>
      api.auth.changePassword.mutate(input),
    onSuccess: async ({ user: me }) => {
      setCurrentPassword("");
      setNewPassword("");
      setConfirmation("");
      // The old session is over: live feeds reconnect in the new one.
      await signedIn(me);
      setChanged("Password changed. Every other device was signed out; this one stays signed in.");
    },
    onError: (caught) => {
      const info = describeError(caught);
      setErrors({
        currentPassword: fieldMessage(LABELS.currentPassword, info.fields.currentPassword),
        newPassword: fieldMessage(LABELS.newPassword, info.fields.newPassword),
        form: Object.keys(info.fields).length ? undefined : info.message,
      });
    },
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setChanged(undefined);
    // The server's own rules, checked before the round trip.
    const checked = changePasswordInputSchema.safeParse({ currentPassword, newPassword });
    const next: Errors = {};
    if (!checked.success) {
      for (const issue of checked.error.issues) {
        const field = issue.path[0];
        if (field === "currentPassword" || field === "newPassword")
          next[field] ??= fieldMessage(LABELS[field], issue.message);
      }
    }
    if (confirmation !== newPassword) next.confirmation = "The two new passwords differ";
    setErrors(next);
    if (checked.success && !next.confirmation) change.mutate(checked.data);
  };

  if (!user) return <Waiting error={session.error} retry={() => void session.refetch()} />;
  return (
    <main className="narrow">
      <h1>Your account</h1>
      <p>
        Signed in as <strong>{user.email}</strong>.
      </p>
      <h2>Change your password</h2>
      <p>Every other device signed in to this account is signed out; this one stays signed in.</p>
      <form ref={form} onSubmit={submit} noValidate>
        <Field
          id="current-password"
          label={LABELS.currentPassword}
          type="password"
          autoComplete="current-password"
          value={currentPassword}
          onChange={(e) => setCurrentPassword(e.target.value)}
          error={errors.currentPassword}
        />
        <Field
          id="new-password"
          label={LABELS.newPassword}
          type="password"
          autoComplete="new-password"
          value={newPassword}
          onChange={(e) => setNewPassword(e.target.value)}
          error={errors.newPassword}
        />
        <Field
          id="new-password-again"
          label="New password again"
          type="password"
          autoComplete="new-password"
          value={confirmation}
          onChange={(e) => setConfirmation(e.target.value)}
          error={errors.confirmation}
        />
        {errors.form && (
          <p className="form-error" role="alert">
            {errors.form}
          </p>
        )}
        <button type="submit" disabled={change.isPending}>
          {change.isPending ? "Changing…" : "Change password"}
        </button>
      </form>
      <p role="status">{changed}</p>
    </main>
  );
}
