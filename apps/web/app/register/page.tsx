import { AuthForm } from "../../src/client/auth-form.tsx";

export default function RegisterPage() {
  return <AuthForm mode="register" />;
}
