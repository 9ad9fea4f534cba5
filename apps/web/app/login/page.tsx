import { AuthForm } from "../../src/client/auth-form.tsx";

export default function LoginPage() {
  return <AuthForm mode="login" />;
}
