// A minimal REST client for system tests: what a curl user or another language would send.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`HTTP ${status}: ${JSON.stringify(body)}`);
  }
}

export type Order = {
  id: string;
  userId: string;
  amount: number;
  description: string;
  status: "NEW" | "FINISHED" | "CANCELLED";
  cancelReason: "NO_ACCOUNT" | "INSUFFICIENT_FUNDS" | null;
  createdAt: string;
  updatedAt: string;
};

export function apiClient(baseUrl: string, token?: string) {
  const call = async <T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const res = await fetch(`${baseUrl}/api/v1${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const json = text ? (JSON.parse(text) as unknown) : null;
    if (!res.ok) throw new ApiError(res.status, json);
    return json as T;
  };
  return {
    call,
    register: (email: string, password: string) =>
      call<{ user: { id: string }; accessToken: string }>("POST", "/auth/register", { email, password }),
    login: (email: string, password: string) =>
      call<{ user: { id: string }; accessToken: string }>("POST", "/auth/login", { email, password }),
    createAccount: () => call<{ account: { balance: number } }>("POST", "/accounts"),
    getAccount: () => call<{ account: { balance: number } }>("GET", "/accounts/me"),
    topUp: (amount: number) =>
      call<{ account: { balance: number } }>("POST", "/accounts/me/top-up", { amount }),
    createOrder: (amount: number, description: string, idempotencyKey?: string) =>
      call<{ order: Order }>(
        "POST",
        "/orders",
        { amount, description },
        idempotencyKey ? { "idempotency-key": idempotencyKey } : {},
      ),
    getOrder: (id: string) => call<{ order: Order }>("GET", `/orders/${id}`),
    listOrders: (query = "") =>
      call<{ orders: Order[]; nextCursor: string | null; position: number }>("GET", `/orders${query}`),
  };
}

export type ApiClient = ReturnType<typeof apiClient>;

export async function signUp(baseUrl: string, label: string) {
  const email = `${label}-${Math.random().toString(36).slice(2, 10)}@shop.test`;
  const { accessToken, user } = await apiClient(baseUrl).register(email, "password-123");
  return { email, userId: user.id, api: apiClient(baseUrl, accessToken) };
}

/** Runs `tasks` with at most `limit` in flight. */
export async function inParallel<T>(limit: number, tasks: Array<() => Promise<T>>): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const lane = async () => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await (tasks[index] as () => Promise<T>)();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, lane));
  return results;
}
