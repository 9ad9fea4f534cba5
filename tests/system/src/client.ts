// A minimal REST client for system tests: what a curl user or another language would send.
import http from "node:http";
import https from "node:https";

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
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const res = await send(`${baseUrl}/api/v1${path}`, method, payload, {
      ...(payload === undefined ? {} : { "content-type": "application/json" }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    });
    const json = res.text ? (JSON.parse(res.text) as unknown) : null;
    if (res.status < 200 || res.status > 299) throw new ApiError(res.status, json);
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

/**
 * One request over Node's own HTTP client (its global agent keeps connections alive, and drops them a
 * second before the server's keep-alive hint runs out). Not `fetch`: it allocates a web stream or two per
 * response, and the bench drives thousands of orders a second through this client in the same process
 * that stamps their latencies, so its garbage collections (10–25 ms pauses) showed up in what it measured.
 */
function send(url: string, method: string, body: string | undefined, headers: Record<string, string>) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const target = new URL(url);
    const request = (target.protocol === "https:" ? https : http).request(
      target,
      {
        method,
        headers: body === undefined ? headers : { ...headers, "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}

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
