import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GIVEN_TWICE, NOT_AN_INTEGER } from "../src/json-body.ts";
import { startApi, strongPassword, uniqueEmail, type ApiHarness } from "./harness.ts";

let api: ApiHarness;
beforeAll(async () => {
  api = await startApi({ label: "api_input" });
});
afterAll(async () => {
  await api?.close();
});

const rawPost = (path: string, body: string, contentType = "application/json") =>
  api.request(path, { method: "POST", body, headers: { "content-type": contentType } });

/** `restFields` where the REST form differs (it reads the body itself; tRPC hands it to the schema). */
type Case = {
  name: string;
  body: string;
  fields: Record<string, RegExp>;
  restFields?: Record<string, RegExp>;
};

const cases: Case[] = [
  { name: "missing fields", body: "{}", fields: { email: /is required/, password: /is required/ } },
  {
    name: "missing password",
    body: JSON.stringify({ email: "a@example.com" }),
    fields: { password: /is required/ },
  },
  {
    name: "wrong types",
    body: JSON.stringify({ email: 42, password: true }),
    fields: { email: /must be a string/, password: /must be a string/ },
  },
  {
    name: "a 10 kB email",
    body: JSON.stringify({ email: `${"a".repeat(10_240)}@example.com`, password: "long-enough-pw" }),
    fields: { email: /at most 254/ },
  },
  {
    name: "an empty password",
    body: JSON.stringify({ email: "a@example.com", password: "" }),
    fields: { password: /is required/ },
  },
  {
    name: "an invalid email",
    body: JSON.stringify({ email: "not-an-email", password: "long-enough-pw" }),
    fields: { email: /valid email/ },
  },
  {
    name: "a 129-character password",
    body: JSON.stringify({ email: "a@example.com", password: "p".repeat(129) }),
    fields: { password: /at most 128/ },
  },
  {
    name: "malformed JSON",
    body: '{"email": "a@example.com", "password": ',
    fields: { body: /not valid JSON/ },
  },
  {
    name: "a JSON array",
    body: "[1,2]",
    fields: { input: /must be an object/ },
    restFields: { body: /must be a JSON object/ },
  },
];

describe.each(["/api/v1/auth/register", "/api/v1/auth/login"])("REST %s", (path) => {
  it.each(cases)(
    "$name → 400 naming the field, nothing written",
    async ({ body, fields: trpcFields, restFields }) => {
      const fields = restFields ?? trpcFields;
      const usersBefore = await api.db.user.count();
      const tokensBefore = await api.db.refreshToken.count();
      const response = await rawPost(path, body);
      expect(response.status).toBe(400);
      expect(Object.keys(response.body.error.fields).sort()).toEqual(Object.keys(fields).sort());
      for (const [field, problem] of Object.entries(fields)) {
        expect(response.body.error.fields[field]).toMatch(problem);
        expect(response.body.error.message).toContain(field);
      }
      expect(response.text).not.toMatch(/stack|at \w+ \(|node_modules|SELECT|INSERT/i);
      expect(await api.db.user.count()).toBe(usersBefore);
      expect(await api.db.refreshToken.count()).toBe(tokensBefore);
    },
  );
});

describe("tRPC input errors", () => {
  it.each(cases)("$name → 400 with data.fields", async ({ body, fields }) => {
    const usersBefore = await api.db.user.count();
    const response = await rawPost("/api/trpc/auth.register", body);
    expect(response.status).toBe(400);
    for (const [field, problem] of Object.entries(fields)) {
      expect(response.body.error.data.fields[field]).toMatch(problem);
      expect(response.body.error.message).toContain(field);
    }
    expect(response.body.error.data.stack).toBeUndefined();
    expect(await api.db.user.count()).toBe(usersBefore);
  });
});

describe("other bad requests", () => {
  it("a register password shorter than 8 characters is refused", async () => {
    const response = await api.rest.register(uniqueEmail("short"), "1234567");
    expect(response.status).toBe(400);
    expect(response.body.error).toMatchObject({
      code: "BAD_REQUEST",
      fields: { password: "must be at least 8 characters" },
      message: "Invalid input: password must be at least 8 characters",
    });
  });

  it("a number JSON would round, or a key given twice, is a 400 naming the field (REST and tRPC); nothing happens", async () => {
    const shopper = await api.shopper("rounding");
    const post = (path: string, body: string) =>
      api.request(path, {
        method: "POST",
        body,
        headers: { "content-type": "application/json", ...api.bearer(shopper.token) },
      });
    const amountOf = (literal: string) => `{"amount": ${literal}, "description": "rounded"}`;
    const cases: Array<[string, Record<string, string>]> = [
      // JSON.parse reads this as 1000000000: an order nobody asked for.
      [amountOf("999999999.99999999999"), { amount: NOT_AN_INTEGER }],
      [amountOf("1000.0"), { amount: NOT_AN_INTEGER }],
      [amountOf("1e3"), { amount: NOT_AN_INTEGER }],
      [amountOf("-2.5E-3"), { amount: NOT_AN_INTEGER }],
      // The last one would win.
      ['{"amount": 5, "description": "twice", "amount": 5000}', { amount: GIVEN_TWICE }],
    ];
    for (const [body, fields] of cases) {
      for (const path of ["/api/v1/orders", "/api/trpc/orders.create"]) {
        const response = await post(path, body);
        const error = path.startsWith("/api/v1") ? response.body.error : response.body.error.data;
        expect(response.status, `${path} ${body}`).toBe(400);
        expect(error.fields, `${path} ${body}`).toEqual(fields);
      }
    }
    // Amounts, keys and numbers inside strings are read as such: one order, as written.
    const fine = await post("/api/v1/orders", '{"amount": 1000, "description": "1e3 \\"amount\\": 1.5"}');
    expect(fine.status).toBe(201);
    const listed = await api.request("/api/v1/orders", { headers: api.bearer(shopper.token) });
    expect(listed.body.orders.map((order: { amount: number }) => order.amount)).toEqual([1000]);
  });

  it("a tRPC query's input with a key given twice or a rounded number is a 400 naming the field", async () => {
    const shopper = await api.shopper("queryinput");
    const query = (input: string) =>
      api.request(`/api/trpc/orders.list?input=${encodeURIComponent(input)}`, {
        headers: api.bearer(shopper.token),
      });
    const cases: Array<[string, Record<string, string>]> = [
      // The last one would win: a page of 100 where 5 was asked for.
      ['{"limit": 5, "limit": 100}', { limit: GIVEN_TWICE }],
      ['{"limit": 1e1}', { limit: NOT_AN_INTEGER }],
      ['{"limit": 10.0}', { limit: NOT_AN_INTEGER }],
    ];
    for (const [input, fields] of cases) {
      const response = await query(input);
      expect(response.status, input).toBe(400);
      expect(response.body.error.data.fields, input).toEqual(fields);
    }
    expect((await query('{"limit": 5}')).status).toBe(200);
  });

  it("a body nested deeper than any input is a 400 naming body, before sign-in is even tried", async () => {
    const deep = `${"[".repeat(30_000)}${"1.0,".repeat(8_000)}`;
    for (const path of ["/api/trpc/auth.login", "/api/v1/auth/login"]) {
      const response = await rawPost(path, deep);
      expect(response.status, path).toBe(400);
      const error = path.startsWith("/api/v1") ? response.body.error : response.body.error.data;
      expect(error.fields, path).toEqual({ body: expect.any(String) });
    }
  });

  it("a body over 64 kB is 413 (REST and tRPC)", async () => {
    const huge = JSON.stringify({ email: "a@example.com", password: "x".repeat(70_000) });
    const rest = await rawPost("/api/v1/auth/register", huge);
    expect(rest.status).toBe(413);
    expect(rest.body.error.code).toBe("PAYLOAD_TOO_LARGE");
    const trpc = await rawPost("/api/trpc/auth.register", huge);
    expect(trpc.status).toBe(413);
  });

  it("a non-JSON body is a JSON 415 (REST and tRPC)", async () => {
    const response = await rawPost(
      "/api/v1/auth/login",
      "email=a@example.com",
      "application/x-www-form-urlencoded",
    );
    expect(response.status).toBe(415);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(response.body.error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
    const trpc = await rawPost("/api/trpc/auth.login", '{"email":"a@example.com"}', "text/plain");
    expect(trpc.status).toBe(415);
    expect(trpc.headers.get("content-type")).toMatch(/^application\/json/);
    expect(trpc.body.error.data.code).toBe("UNSUPPORTED_MEDIA_TYPE");
    expect(trpc.body.error.message).toMatch(/Content-Type: application\/json/);
  });

  it("a bad query parameter names it", async () => {
    const admin = uniqueEmail("qadmin");
    const password = strongPassword();
    await api.db.user.create({
      data: {
        email: admin,
        role: "ADMIN",
        passwordHash: await (await import("../src/identity/passwords.ts")).hashPassword(password),
      },
    });
    const token = (await api.rest.login(admin, password)).body.accessToken;
    const response = await api.request("/api/v1/admin/users?limit=lots", {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(400);
    expect(response.body.error.fields.limit).toMatch(/integer/);
    const tooMany = await api.request("/api/v1/admin/users?limit=1000", {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.fields.limit).toBe("must be at most 100");
  });
});
