import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { z } from "zod";
import { appRouter } from "../src/root.ts";
import { startApi, type ApiHarness } from "./harness.ts";

let api: ApiHarness;
let token: string;
beforeAll(async () => {
  api = await startApi({ label: "api_unknown_fields" });
  ({ token } = await api.shopper("typo"));
});
afterAll(async () => {
  await api?.close();
});

describe("unknown input fields are a 400 naming each of them", () => {
  it("REST: POST /api/v1/orders with a typo (`amout`) creates no order", async () => {
    const response = await api.request("/api/v1/orders", {
      method: "POST",
      json: { amount: 100, description: "x", amout: 5 },
      headers: api.bearer(token),
    });
    expect(response.status).toBe(400);
    expect(response.body).toEqual({
      error: expect.objectContaining({ code: "BAD_REQUEST", fields: { amout: "is not a known field" } }),
    });
    expect(response.body.error.message).toContain("amout");
    expect(await api.countRows("orders.orders")).toBe(0);
    expect(await api.countRows("orders.outbox")).toBe(0);
  });

  it("tRPC: every unknown field is named, a nested path included", async () => {
    const response = await api.trpc.mutation(
      "orders.create",
      { amount: 100, description: "x", amout: 5, note: "y" },
      token,
    );
    expect(response.status).toBe(400);
    expect(response.body.error.data).toMatchObject({
      code: "BAD_REQUEST",
      fields: { amout: "is not a known field", note: "is not a known field" },
    });
    expect(await api.countRows("orders.orders")).toBe(0);
  });

  it("fields named like Object.prototype members (`__proto__`, `constructor`) are named too", async () => {
    const response = await api.request("/api/v1/orders", {
      method: "POST",
      body: '{"amount":100,"description":"x","__proto__":{"role":"ADMIN"},"constructor":1}',
      headers: { ...api.bearer(token), "content-type": "application/json" },
    });
    expect(response.status).toBe(400);
    expect(Object.keys(response.body.error.fields).sort()).toEqual(["__proto__", "constructor"]);
    expect(response.body.error.message).toMatch(/__proto__ is not a known field; constructor is not/);
    expect(await api.countRows("orders.orders")).toBe(0);
  });

  it("REST query parameters and auth bodies too", async () => {
    const list = await api.request("/api/v1/orders?limit=5&limt=6", { headers: api.bearer(token) });
    expect(list.status).toBe(400);
    expect(list.body.error.fields).toEqual({ limt: "is not a known field" });

    const login = await api.request("/api/v1/auth/login", {
      method: "POST",
      json: { email: "a@example.com", password: "long-enough-pw", role: "ADMIN" },
    });
    expect(login.status).toBe(400);
    expect(login.body.error.fields).toEqual({ role: "is not a known field" });

    const topUp = await api.trpc.mutation("payments.topUp", { amount: 100, currency: "RUB" }, token);
    expect(topUp.status).toBe(400);
    expect(topUp.body.error.data.fields).toEqual({ currency: "is not a known field" });
  });

  it("procedures that take no input refuse any field, and still take none (REST and tRPC)", async () => {
    const created = await api.request("/api/v1/accounts", {
      method: "POST",
      json: { balance: 100_000 },
      headers: api.bearer(token),
    });
    expect(created.status).toBe(400);
    expect(created.body.error.fields).toEqual({ balance: "is not a known field" });
    expect(await api.countRows("payments.accounts")).toBe(0);

    const other = await api.shopper("other");
    const account = await api.request(`/api/v1/accounts/me?userId=${other.userId}`, {
      headers: api.bearer(token),
    });
    expect(account.status).toBe(400);
    expect(account.body.error.fields).toEqual({ userId: "is not a known field" });
    const me = await api.request("/api/v1/auth/me?role=ADMIN", { headers: api.bearer(token) });
    expect(me.status).toBe(400);
    expect(me.body.error.fields).toEqual({ role: "is not a known field" });
    const trpcMe = await api.trpc.query("auth.me", { userId: other.userId }, token);
    expect(trpcMe.status).toBe(400);
    expect(trpcMe.body.error.data.fields).toEqual({ userId: "is not a known field" });

    // No input at all (the web app's `createAccount.mutate()`), or an empty REST body, stays valid.
    expect((await api.trpc.mutation("payments.createAccount", undefined, token)).status).toBe(200);
    expect((await api.trpc.query("payments.getAccount", undefined, token)).status).toBe(200);
    expect((await api.request("/api/v1/accounts/me", { headers: api.bearer(token) })).status).toBe(200);
    expect((await api.rest.me(token)).status).toBe(200);
    const second = await api.request("/api/v1/accounts", {
      method: "POST",
      headers: api.bearer(other.token),
    });
    expect(second.status).toBe(201);
  });

  it("every procedure's input schema refuses unknown keys (a procedure without one counts as lax)", () => {
    const procedures = appRouter._def.procedures as unknown as Record<
      string,
      { _def: { inputs: z.ZodType[] } }
    >;
    const lax: string[] = [];
    for (const [path, procedure] of Object.entries(procedures)) {
      // Without an input schema tRPC takes any input and ignores it: as lax as it gets.
      if (procedure._def.inputs.length === 0) lax.push(path);
      for (const input of procedure._def.inputs) {
        const probe = input.safeParse({ __unknown_field__: 1 });
        const issues = probe.success ? [] : probe.error.issues;
        if (!issues.some((issue) => issue.code === "unrecognized_keys")) lax.push(path);
      }
    }
    expect(lax).toEqual([]);
  });
});
