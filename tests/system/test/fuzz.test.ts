// Input fuzzing against a running system: property-based requests (fast-check) to every REST endpoint
// and every tRPC procedure — wrong types, boundary and out-of-range numbers, huge strings, odd Unicode,
// malformed JSON, missing and extra fields, wrong content types, oversized bodies, forged tokens. Every
// request is invalid by construction, so each property asserts: never a 5xx, a JSON error naming the
// problem, and no change in any of the three databases (row counts, balances, last updates).
// FUZZ_SEED replays a run; FUZZ_RUNS scales the runs per property.
import { createHmac, randomUUID } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "@gozon/core/testing";
import { apiClient } from "../src/client.ts";
import {
  amountBad,
  amountBadSmall,
  amountGood,
  bearer,
  build,
  descriptionBad,
  descriptionGood,
  emailBad,
  emailGood,
  encode,
  entries,
  fuzzStats,
  huge,
  hugeOf,
  judge,
  judgeWs,
  rawWsFrame,
  sendRawWsBytes,
  wsProbe,
  json,
  keyBad,
  latin1,
  newPasswordBad,
  odd,
  passwordBad,
  passwordGood,
  pct,
  preview,
  repeated,
  snapshotDatabases,
  uuidBad,
  waitUntilIdle,
  wrongType,
  type Built,
  type Entries,
  type Field,
  type Probe,
} from "../src/fuzz.ts";
import { subscribeFeed } from "../src/live.ts";
import { ADMIN, startSystem, type System } from "../src/system.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 20261224);
const SCALE = Number(process.env.FUZZ_RUNS ?? 1);
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));

let system: System;
let base: string;
let shopper: { id: string; token: string; orderId: string };
let adminToken: string;

/** Sends the probe to the system and fails unless the answer is a well-formed refusal. */
const check = (p: Probe) => judge(base, p);

// ---------------------------------------------------------------------------------------------------
// Probes of the API's two transports, and the procedures with the fields of their inputs
// ---------------------------------------------------------------------------------------------------

function rest(
  method: string,
  path: string,
  built: Built,
  token: string | null,
  statuses: number[],
  extra: Partial<Probe> = {},
): Probe {
  const filled = path.replace(/\{(\w+)\}/g, (_, name: string) => pct(built.path[name] ?? ""));
  return {
    api: "rest",
    method,
    path: `/api/v1${filled}`,
    headers: { ...json, ...(token ? bearer(token) : {}), ...built.headers },
    body: method === "GET" ? undefined : encode(built.body),
    names: built.broken,
    statuses,
    ...extra,
  };
}

function trpc(
  procedure: string,
  kind: "query" | "mutation",
  input: unknown,
  token: string | null,
  statuses: number[],
  names: string[],
  extra: Partial<Probe> = {},
): Probe {
  const text = input === undefined ? undefined : encode(input);
  return kind === "query"
    ? {
        api: "trpc",
        method: "GET",
        path: `/api/trpc/${procedure}${text === undefined ? "" : `?input=${pct(text)}`}`,
        headers: token ? bearer(token) : {},
        names,
        statuses,
        ...extra,
      }
    : {
        api: "trpc",
        method: "POST",
        path: `/api/trpc/${procedure}`,
        headers: { ...json, ...(token ? bearer(token) : {}) },
        body: text,
        names,
        statuses,
        ...extra,
      };
}

// The procedures, their REST routes and the fields of their inputs.
const amount = (): Field => ({ name: "amount", good: amountGood, bad: amountBad });
const credentials = (password: fc.Arbitrary<unknown>): Field[] => [
  { name: "email", good: emailGood, bad: emailBad },
  { name: "password", good: passwordGood, bad: password },
];
const idempotencyHeader: Field = {
  name: "Idempotency-Key",
  at: "header",
  good: fc.constantFrom(undefined, "fuzz-key-1"),
  bad: keyBad,
  optional: true,
};
/** The key as an input field (both transports take it); the same good value as the header's. */
const idempotencyInput: Field = {
  name: "idempotencyKey",
  good: fc.constant("fuzz-key-1"),
  bad: fc.oneof(
    keyBad,
    wrongType,
    odd.filter((s) => !/^[\x20-\x7e]{1,255}$/.test(s)),
  ),
  optional: true,
};

type Mutation = {
  procedure: string;
  rest: { method: "POST"; path: string };
  fields: () => Field[];
  token: () => string | null;
  /** tRPC input fields that REST takes from the path. */
  pathFields?: string[];
};

const mutations: Mutation[] = [
  {
    procedure: "auth.register",
    rest: { method: "POST", path: "/auth/register" },
    fields: () => credentials(newPasswordBad),
    token: () => null,
  },
  {
    procedure: "auth.login",
    rest: { method: "POST", path: "/auth/login" },
    fields: () => credentials(passwordBad),
    token: () => null,
  },
  {
    procedure: "admin.createAdmin",
    rest: { method: "POST", path: "/admin/admins" },
    fields: () => credentials(newPasswordBad),
    token: () => adminToken,
  },
  {
    procedure: "payments.topUp",
    rest: { method: "POST", path: "/accounts/me/top-up" },
    fields: () => [amount(), idempotencyHeader, idempotencyInput],
    token: () => shopper.token,
  },
  {
    procedure: "orders.create",
    rest: { method: "POST", path: "/orders" },
    fields: () => [
      amount(),
      { name: "description", good: descriptionGood, bad: descriptionBad },
      idempotencyHeader,
      idempotencyInput,
    ],
    token: () => shopper.token,
  },
  {
    procedure: "admin.topUp",
    rest: { method: "POST", path: "/admin/users/{userId}/top-up" },
    fields: () => [
      { name: "userId", at: "path", good: fc.constant(shopper.id), bad: uuidBad },
      amount(),
      idempotencyHeader,
      idempotencyInput,
    ],
    token: () => adminToken,
    pathFields: ["userId"],
  },
];

/** The same fields as a tRPC input: headers stay headers, path fields go into the input. */
function asTrpcFields(fields: Field[]): Field[] {
  return fields.map((f) => (f.at === "path" ? { ...f, at: "body" as const } : f));
}

/** The POST routes whose inputs have no required field: only their bodies are fuzzed as a whole. */
const otherPosts: Mutation[] = [
  {
    procedure: "auth.refresh",
    rest: { method: "POST", path: "/auth/refresh" },
    fields: () => [],
    token: () => null,
  },
  {
    procedure: "auth.logout",
    rest: { method: "POST", path: "/auth/logout" },
    fields: () => [],
    token: () => null,
  },
  {
    procedure: "payments.createAccount",
    rest: { method: "POST", path: "/accounts" },
    fields: () => [],
    token: () => shopper.token,
  },
];

/** Runs the property with the fixed seed, then checks that no database changed. */
async function holds<T>(arb: fc.Arbitrary<T>, predicate: (value: T) => Promise<void>, numRuns: number) {
  await waitUntilIdle(system.dbs.urls);
  const before = await snapshotDatabases(system.dbs.urls);
  await fc.assert(fc.asyncProperty(arb, predicate), { seed: SEED, numRuns: runs(numRuns) });
  expect(await snapshotDatabases(system.dbs.urls)).toEqual(before);
}

// ---------------------------------------------------------------------------------------------------

beforeAll(async () => {
  console.log(`fuzz: seed ${SEED} (FUZZ_SEED=${SEED} replays this run), FUZZ_RUNS scale ${SCALE}`);
  system = await startSystem();
  base = system.webUrls[0]!;
  const email = `fuzz-${randomUUID().slice(0, 8)}@shop.test`;
  const session = await apiClient(base).register(email, "password-123");
  const api = apiClient(base, session.accessToken);
  await api.createAccount();
  await api.topUp(50_000);
  const { order } = await api.createOrder(100, "the fuzzer's own order");
  await waitFor(async () => (await api.getOrder(order.id)).order.status !== "NEW", {
    what: "the order to settle",
  });
  shopper = { id: session.user.id, token: session.accessToken, orderId: order.id };
  adminToken = (await apiClient(base).login(ADMIN.email, ADMIN.password)).accessToken;
});

afterAll(async () => {
  if (fuzzStats.oversizedResets > 0) {
    console.log(
      `fuzz: ${fuzzStats.oversizedResets} oversized bodies met a closed connection (the 413 was sent early)`,
    );
  }
  for (const [what, n] of fuzzStats.knownBugHits) console.warn(`fuzz: known bug hit ${n}×: ${what}`);
  await system?.stop();
});

describe("REST fuzzing", () => {
  for (const m of mutations) {
    it(`${m.rest.method} ${m.rest.path}: invalid fields are a 400 naming them`, async () => {
      await holds(
        build(m.fields()),
        (built) =>
          check(rest(m.rest.method, m.rest.path, built, m.token(), m.pathFields ? [400, 404] : [400])),
        100,
      );
    });
  }

  it("every POST: malformed JSON and non-object bodies are a 400 naming the body", async () => {
    const body = fc.oneof(
      fc.constantFrom(
        "{",
        "}",
        "{]",
        '{"amount":',
        '{"amount":5,}',
        "{'amount':5}",
        '{"amount":NaN}',
        '{"amount":5}x',
        "\ufeff{}",
        "{/*c*/}",
        "[",
        "nul",
        "tru",
        '"unterminated',
      ),
      fc
        .string({ maxLength: 30 })
        .filter((s) => {
          try {
            JSON.parse(s);
            return s.trim() === "";
          } catch {
            return true;
          }
        })
        .filter((s) => s.trim() !== ""),
      fc.constantFrom("null", "[]", "123", '"text"', "true", "[{}]", "-0", "1e999"),
      fc
        .jsonValue()
        .map((v) => JSON.stringify(v))
        .filter((t) => !t.startsWith("{")),
    );
    await holds(
      fc.record({ m: fc.constantFrom(...mutations, ...otherPosts), body }),
      ({ m, body }) =>
        check({
          api: "rest",
          method: "POST",
          path: `/api/v1${m.rest.path.replace("{userId}", shopper.id)}`,
          headers: { ...json, ...bearer(m.token() ?? "x") },
          body,
          names: ["body"],
          statuses: [400],
        }),
      100,
    );
  });

  it("every POST: a body that is not JSON by its content type is a 415, an oversized one a 413", async () => {
    const valid = (m: Mutation) =>
      m.procedure === "orders.create"
        ? { amount: 100, description: "ok" }
        : m.procedure.includes("opUp")
          ? { amount: 100 }
          : { email: "x@shop.test", password: "password-123" };
    await holds(
      fc.record({
        m: fc.constantFrom(...mutations, ...otherPosts),
        kind: fc.constantFrom(
          "text/plain",
          "application/x-www-form-urlencoded",
          "multipart/form-data; boundary=x",
          "application/xml",
          "text/json",
          "none",
          "oversized",
          "oversized-chunked",
        ),
        pad: fc.integer({ min: 65_537, max: 300_000 }),
      }),
      ({ m, kind, pad }) => {
        const path = `/api/v1${m.rest.path.replace("{userId}", shopper.id)}`;
        const headers = bearer(m.token() ?? "x");
        if (kind.startsWith("oversized")) {
          const body = JSON.stringify({ ...valid(m), padding: "x".repeat(pad) });
          return check({
            api: "rest",
            method: "POST",
            path,
            headers: { ...json, ...headers },
            body,
            chunked: kind.endsWith("chunked"),
            names: ["body"],
            statuses: [413],
          });
        }
        const body =
          kind === "none" ? new TextEncoder().encode(JSON.stringify(valid(m))) : JSON.stringify(valid(m));
        return check({
          api: "rest",
          method: "POST",
          path,
          headers: kind === "none" ? headers : { ...headers, "content-type": kind },
          body,
          names: ["body"],
          statuses: [415],
        });
      },
      100,
    );
  });

  it("auth.refresh and auth.logout: odd refresh tokens are a 400 naming refreshToken, or a 401", async () => {
    const token = fc.oneof(wrongType, fc.constant(""), repeated(["x", "😀"], 513, 3_000), huge, latin1, odd);
    await holds(
      fc.record({
        procedure: fc.constantFrom("auth.refresh", "auth.logout"),
        api: fc.constantFrom("rest" as const, "trpc" as const),
        token,
      }),
      ({ procedure, api, token }) =>
        check({
          api,
          method: "POST",
          path: api === "rest" ? `/api/v1/auth/${procedure.slice(5)}` : `/api/trpc/${procedure}`,
          headers: json,
          body: encode(entries([["refreshToken", token]])),
          names: ["refreshToken", "input"],
          statuses: [400, 401],
          // Logging out with a token nobody holds is a harmless no-op.
          mayPass: procedure === "auth.logout",
        }),
      60,
    );
  });

  it("reads: odd query strings and ids are refused with a 400 naming the parameter, or answered", async () => {
    const limit = fc.oneof(
      fc.constantFrom(
        "0",
        "-1",
        "1.5",
        "101",
        "1e9",
        "1e12",
        "abc",
        "",
        "NaN",
        "Infinity",
        "0x10",
        "%zz",
        "%E0%A4%A",
        "1%00",
      ),
      fc.integer({ min: -5, max: 200 }).map(String),
      odd.map(pct),
    );
    const cursor = fc.oneof(
      uuidBad.map((u) => pct(String(u))),
      fc.uuid().map(String),
      fc.constantFrom("%zz", "%"),
    );
    const email = fc.oneof(
      odd.map(pct),
      hugeOf(["x", "é"], 255, 1_000).map(pct),
      fc.constantFrom("%zz", "%", "a%00b"),
    );
    const query = (pairs: Array<[string, string | undefined]>) =>
      pairs
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${v}`)
        .join("&");
    await holds(
      fc.oneof(
        fc
          .record({
            l: fc.option(limit, { nil: undefined }),
            c: fc.option(cursor, { nil: undefined }),
            x: fc.option(odd.map(pct), { nil: undefined }),
          })
          .map(({ l, c, x }): Probe => ({
            api: "rest",
            method: "GET",
            path: `/api/v1/orders?${query([
              ["limit", l],
              ["cursor", c],
              ["extra", x],
            ])}`,
            headers: bearer(shopper.token),
            // An unknown parameter is a 400 naming it.
            names: ["limit", "cursor", "extra"],
            statuses: [400],
            mayPass: true,
          })),
        fc
          .record({
            e: fc.option(email, { nil: undefined }),
            l: fc.option(limit, { nil: undefined }),
            c: fc.option(odd.map(pct), { nil: undefined }),
          })
          .map(({ e, l, c }): Probe => ({
            api: "rest",
            method: "GET",
            path: `/api/v1/admin/users?${query([
              ["email", e],
              ["limit", l],
              ["cursor", c],
            ])}`,
            headers: bearer(adminToken),
            names: ["email", "limit", "cursor"],
            statuses: [400],
            mayPass: true,
          })),
        fc
          .oneof(
            uuidBad.map((u) => pct(String(u))),
            fc.constantFrom("%zz", "00000000-0000-0000-0000-000000000000", "%2e%2e"),
            fc.uuid().map(String),
          )
          .map((id): Probe => ({
            api: "rest",
            method: "GET",
            path: `/api/v1/orders/${id}`,
            headers: bearer(shopper.token),
            names: ["id"],
            statuses: [400, 404],
            mayPass: true,
          })),
        fc
          .constantFrom(
            "/api/v1/auth/me",
            "/api/v1/accounts/me",
            "/api/v1/orders/" + "x".repeat(2_000),
            "/api/health",
            "/api/ready",
          )
          .chain((p) =>
            odd.map((x): Probe => ({
              api: "rest",
              method: "GET",
              path: `${p}?${pct(x)}=${pct(x)}`,
              headers: bearer(shopper.token),
              names: ["id"],
              statuses: [400],
              mayPass: true,
            })),
          ),
      ),
      check,
      150,
    );
  });

  it("forged, malformed and foreign tokens are a 401 on every protected endpoint, a shopper's a 403 on admin ones", async () => {
    await holds(
      fc.record({ auth: authHeader(), target: protectedTargets() }),
      ({ auth, target }) =>
        check({ ...target, headers: { ...target.headers, authorization: auth }, statuses: [401] }),
      120,
    );
    await holds(
      fc.constantFrom(...adminTargets()),
      (target) =>
        check({
          ...target,
          headers: { ...target.headers, ...bearer(shopper.token) },
          statuses: [403],
          names: [],
        }),
      24,
    );
  });
});

describe("tRPC fuzzing", () => {
  for (const m of mutations) {
    it(`${m.procedure}: invalid inputs are a 400 naming the field`, async () => {
      await holds(
        build(asTrpcFields(m.fields())),
        (built) => {
          const input = entries([...built.body]);
          const probe = trpc(m.procedure, "mutation", input, m.token(), [400], built.broken);
          return check({ ...probe, headers: { ...probe.headers, ...built.headers } });
        },
        100,
      );
    });
  }

  it("mutations: inputs of the wrong shape, malformed JSON, wrong content types and oversized bodies are refused", async () => {
    const fieldNames = (m: Mutation) => m.fields().map((f) => f.name);
    await holds(
      fc.record({
        m: fc.constantFrom(...mutations),
        variant: fc.oneof(
          fc
            .constantFrom("null", "[]", "123", '"text"', "true", "[{}]", "{", '{"amount":', "nul", "{'a':1}")
            .map((body) => ({ body, type: "application/json", statuses: [400] })),
          fc
            .constantFrom(
              "text/plain",
              "application/x-www-form-urlencoded",
              "application/xml",
              "multipart/form-data; boundary=x",
              "application/octet-stream",
            )
            .map((type) => ({
              body: '{"amount":100,"description":"ok","email":"x@shop.test","password":"password-123"}',
              type,
              statuses: [400, 415],
            })),
          fc.integer({ min: 65_537, max: 300_000 }).map((n) => ({
            body: JSON.stringify({ amount: 100, description: "x".repeat(n) }),
            type: "application/json",
            statuses: [413],
          })),
        ),
      }),
      ({ m, variant }) =>
        check({
          api: "trpc",
          method: "POST",
          path: `/api/trpc/${m.procedure}`,
          headers: { "content-type": variant.type, ...bearer(m.token() ?? "x") },
          body: variant.body,
          names: ["input", "body", ...fieldNames(m)],
          statuses: variant.statuses,
        }),
      100,
    );
  });

  it("history reads: odd filters, times, cursors and ids are a 400 naming the parameter, or answered", async () => {
    const limit = fc.oneof(
      fc.constantFrom("0", "-1", "1.5", "101", "abc", "", "NaN", "%zz", "1%00"),
      fc.integer({ min: -5, max: 200 }).map(String),
      odd.map(pct),
    );
    const base64url = (text: string) => Buffer.from(text, "utf8").toString("base64url");
    // Garbage, base64url of anything, and well-formed cursors of the wrong list or with a bad position.
    const cursor = fc.oneof(
      odd.map(pct),
      fc.string().map(base64url),
      fc.jsonValue().map((value) => base64url(JSON.stringify(value))),
      fc
        .tuple(fc.constantFrom("ledger", "admin.orders", "admin.payments", "x"), fc.jsonValue())
        .map((pair) => base64url(JSON.stringify(pair))),
      fc
        .tuple(fc.constantFrom("admin.orders", "admin.payments"), fc.date(), fc.uuid())
        .map(([list, at, id]) =>
          base64url(JSON.stringify([list, [Number.isNaN(at.getTime()) ? "bad" : at.toISOString(), id]])),
        ),
      fc.constantFrom("%zz", "%"),
      hugeOf(["A"], 600, 2_000),
    );
    const time = fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => pct(d.toISOString())),
      fc.constantFrom("0000-01-01T00:00:00Z", "yesterday", "2026-12-01", "2026-13-01T00:00:00Z", "%zz"),
      odd.map(pct),
    );
    const id = fc.oneof(
      uuidBad.map((u) => pct(String(u))),
      fc.uuid().map(String),
    );
    const query = (pairs: Array<[string, string | undefined]>) =>
      pairs
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${v}`)
        .join("&");
    const opt = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
    const read = (path: string, token: () => string, names: string[], statuses = [400]): Probe => ({
      api: "rest",
      method: "GET",
      path,
      headers: bearer(token()),
      names,
      statuses,
      mayPass: true,
    });
    await holds(
      fc.oneof(
        fc.record({ l: opt(limit), c: opt(cursor), x: opt(odd.map(pct)) }).map(({ l, c, x }) =>
          read(
            `/api/v1/accounts/me/ledger?${query([
              ["limit", l],
              ["cursor", c],
              ["extra", x],
            ])}`,
            () => shopper.token,
            ["limit", "cursor", "extra"],
          ),
        ),
        fc
          .record({
            s: opt(
              fc.oneof(fc.constantFrom("NEW", "FINISHED", "CANCELLED", "new", "PAID", "%zz"), odd.map(pct)),
            ),
            u: opt(id),
            e: opt(fc.oneof(odd.map(pct), fc.constantFrom("", "a%00b", "%zz"))),
            f: opt(time),
            t: opt(time),
            l: opt(limit),
            c: opt(cursor),
          })
          .map(({ s, u, e, f, t, l, c }) =>
            read(
              `/api/v1/admin/orders?${query([
                ["status", s],
                ["userId", u],
                ["email", e],
                ["from", f],
                ["to", t],
                ["limit", l],
                ["cursor", c],
              ])}`,
              () => adminToken,
              ["status", "userId", "email", "from", "to", "limit", "cursor"],
            ),
          ),
        fc
          .record({
            u: opt(id),
            o: opt(fc.oneof(fc.constantFrom("SUCCEEDED", "FAILED", "failed", "PENDING"), odd.map(pct))),
            l: opt(limit),
            c: opt(cursor),
          })
          .map(({ u, o, l, c }) =>
            read(
              `/api/v1/admin/payments?${query([
                ["userId", u],
                ["outcome", o],
                ["limit", l],
                ["cursor", c],
              ])}`,
              () => adminToken,
              ["userId", "outcome", "limit", "cursor"],
            ),
          ),
        id.map((userId) => read(`/api/v1/admin/users/${userId}`, () => adminToken, ["userId"], [400, 404])),
      ),
      check,
      150,
    );
  });

  it("queries: odd inputs over GET ?input= are a 400 naming the field, or answered", async () => {
    const limit = fc.oneof(amountBadSmall, fc.integer({ min: -5, max: 200 }));
    await holds(
      fc.oneof(
        fc
          .record({
            limit: fc.option(limit, { nil: undefined }),
            cursor: fc.option(fc.oneof(uuidBad, fc.uuid().map(String)), { nil: undefined }),
          })
          .map(({ limit, cursor }) =>
            trpc(
              "orders.list",
              "query",
              entries([
                ...(limit === undefined ? [] : [["limit", limit] as [string, unknown]]),
                ...(cursor === undefined ? [] : [["cursor", cursor] as [string, unknown]]),
              ]),
              shopper.token,
              [400],
              ["limit", "cursor", "input"],
              { mayPass: true },
            ),
          ),
        fc.oneof(uuidBad, wrongType, fc.uuid().map(String)).map((id) =>
          trpc("orders.byId", "query", entries([["id", id]]), shopper.token, [400, 404], ["id", "input"], {
            mayPass: true,
          }),
        ),
        fc
          .record({
            email: fc.option(fc.oneof(odd, wrongType, hugeOf(["x"], 255, 3_000)), { nil: undefined }),
            limit: fc.option(limit, { nil: undefined }),
            cursor: fc.option(fc.oneof(odd, wrongType), { nil: undefined }),
          })
          .map(({ email, limit, cursor }) =>
            trpc(
              "admin.findUsers",
              "query",
              entries(
                (
                  [
                    ["email", email],
                    ["limit", limit],
                    ["cursor", cursor],
                  ] as Entries
                ).filter(([, v]) => v !== undefined),
              ),
              adminToken,
              [400],
              ["email", "limit", "cursor", "input"],
              { mayPass: true },
            ),
          ),
        fc
          .oneof(wrongType, odd, fc.integer())
          .chain((input) =>
            fc
              .constantFrom("auth.me", "payments.getAccount")
              .map((procedure) =>
                trpc(procedure, "query", input, shopper.token, [400], ["input"], { mayPass: true }),
              ),
          ),
        fc.constantFrom("{", "%zz", "%E0%A4%A", "nul", "{'a':1}", "%7B%22limit%22%3A").chain((raw) =>
          fc.constantFrom("orders.list", "orders.byId", "admin.findUsers").map((procedure): Probe => ({
            api: "trpc",
            method: "GET",
            path: `/api/trpc/${procedure}?input=${raw}`,
            headers: bearer(procedure.startsWith("admin") ? adminToken : shopper.token),
            names: ["input", "body", "id"],
            statuses: [400],
          })),
        ),
      ),
      check,
      150,
    );
  });

  it("the wrong method: a mutation over GET is a 405 (valid input, no effect), a query over POST is refused", async () => {
    await holds(
      fc.oneof(
        fc.constantFrom(...mutations).map((m) =>
          trpc(
            m.procedure,
            "query",
            entries([
              ["amount", 100],
              ["description", "ok"],
              ["email", "get@shop.test"],
              ["password", "password-123"],
              ["userId", shopper.id],
            ]),
            m.token(),
            [405],
            [],
          ),
        ),
        fc
          .constantFrom("orders.list", "orders.byId", "admin.findUsers", "auth.me", "payments.getAccount")
          .map((procedure) =>
            trpc(
              procedure,
              "mutation",
              entries([]),
              procedure.startsWith("admin") ? adminToken : shopper.token,
              [405],
              [],
            ),
          ),
        fc
          .constantFrom(
            "nope",
            "orders",
            "orders.create.x",
            "__proto__",
            "constructor",
            "orders.%00",
            "a".repeat(2_000),
          )
          .map((procedure): Probe => ({
            api: "trpc",
            method: "POST",
            path: `/api/trpc/${procedure}`,
            headers: { ...json, ...bearer(shopper.token) },
            body: "{}",
            names: [],
            statuses: [404],
          })),
      ),
      check,
      60,
    );
  });

  it("batches are refused whole (400): one request never runs several procedures", async () => {
    const callArb = fc
      .constantFrom(...mutations.filter((m) => m.token() !== adminToken && m.token() !== null))
      .chain((m) =>
        build(asTrpcFields(m.fields()).filter((f) => f.at !== "header")).map((built) => ({ m, built })),
      );
    await holds(
      fc.array(callArb, { minLength: 1, maxLength: 4 }),
      (calls) =>
        check({
          api: "trpc",
          method: "POST",
          path: `/api/trpc/${calls.map((c) => c.m.procedure).join(",")}?batch=1`,
          headers: { ...json, ...bearer(shopper.token) },
          body: encode(entries(calls.map((c, i) => [String(i), entries([...c.built.body])]))),
          names: ["*"],
          statuses: [400],
        }),
      80,
    );
  });

  it("subscriptions over HTTP are a 405 pointing to the WebSocket, whatever the input or token", async () => {
    // Only the WebSocket can end a feed when its session ends (expiry, sign-out, revocation); an HTTP
    // event stream would outlive the token that opened it.
    const input = fc.oneof(
      fc.constant(undefined),
      fc.constantFrom<unknown>({}, { lastEventId: "1" }, true, [], [1]),
      fc.oneof(fc.integer(), odd).map((v) => entries([["lastEventId", v]])),
    );
    const procedure = fc.constantFrom(
      "orders.onStatusChange",
      "admin.orderFeed",
      "payments.onBalanceChange",
      "admin.onBalanceChange",
    );
    const token = fc.constantFrom<string | null>(shopper.token, adminToken, null, "forged");
    await holds(
      fc.record({ input, procedure, token }),
      async ({ input, procedure, token }) => {
        const query = input === undefined ? "" : `?input=${pct(encode(input))}`;
        const path = `/api/trpc/${procedure}${query}`;
        const res = await fetch(`${base}${path}`, { headers: token ? bearer(token) : {} });
        const text = await res.text();
        const error = (JSON.parse(text) as { error?: { message?: string; data?: { code?: string } } }).error;
        if (
          res.status !== 405 ||
          error?.data?.code !== "METHOD_NOT_SUPPORTED" ||
          !error.message?.includes("WebSocket")
        )
          throw new Error(`GET ${path.slice(0, 300)}\n  response: ${res.status} ${preview(text, 600)}`);
      },
      40,
    );
  });
});

describe("boundaries that must be accepted", () => {
  it("takes the largest amount and the longest descriptions the spec allows, and refuses one more", async () => {
    const api = apiClient(base, shopper.token);
    for (const description of [
      "😀".repeat(500),
      "e\u0301".repeat(250),
      ` ${"a".repeat(500)} `,
      "\u202eמתנה\u202c",
      "👩‍👩‍👧".repeat(100),
    ]) {
      const { order } = await api.createOrder(1_000_000_000, description);
      expect(order.description).toBe(description.trim());
    }
    await expect(api.createOrder(1, "😀".repeat(501))).rejects.toMatchObject({ status: 400 });
    await expect(api.createOrder(1_000_000_001, "x")).rejects.toMatchObject({ status: 400 });
    const before = (await api.getAccount()).account.balance;
    expect((await api.topUp(1_000_000_000)).account.balance).toBe(before + 1_000_000_000);
  });
});

// ---------------------------------------------------------------------------------------------------
// Tokens and protected targets
// ---------------------------------------------------------------------------------------------------

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

function authHeader(): fc.Arbitrary<string> {
  const forged = fc.constantFrom(
    () => {
      const [h, p, sig] = shopper.token.split(".") as [string, string, string];
      const i = Math.floor(sig.length / 2);
      return `${h}.${p}.${sig.slice(0, i)}${sig[i] === "A" ? "B" : "A"}${sig.slice(i + 1)}`;
    },
    () => shopper.token.split(".").slice(0, 2).join("."),
    () => {
      const payload = JSON.parse(Buffer.from(shopper.token.split(".")[1]!, "base64url").toString()) as Record<
        string,
        unknown
      >;
      return `${b64url({ alg: "none", typ: "JWT" })}.${b64url({ ...payload, role: "ADMIN" })}.`;
    },
    () => {
      const [h, p, sig] = shopper.token.split(".") as [string, string, string];
      const payload = JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>;
      return `${h}.${b64url({ ...payload, role: "ADMIN" })}.${sig}`;
    },
    () => {
      const payload = JSON.parse(Buffer.from(shopper.token.split(".")[1]!, "base64url").toString()) as Record<
        string,
        unknown
      >;
      const head = `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url({ ...payload, role: "ADMIN" })}`;
      return `${head}.${createHmac("sha256", "secret").update(head).digest("base64url")}`;
    },
    () => {
      const payload = JSON.parse(Buffer.from(shopper.token.split(".")[1]!, "base64url").toString()) as Record<
        string,
        unknown
      >;
      const head = `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url({ ...payload, exp: 1 })}`;
      return `${head}.${createHmac("sha256", "secret").update(head).digest("base64url")}`;
    },
  );
  return fc.oneof(
    forged.map((make) => `Bearer ${make()}`),
    latin1.map((t) => `Bearer ${t}`),
    fc.constantFrom(
      "Basic dXNlcjpwYXNzd29yZA==",
      "Token abc",
      "Bearer",
      "Bearer null",
      "Bearer undefined",
      "Bearer a.b.c",
      "Bearer ...",
    ),
    fc.constant(0).map(() => shopper.token),
    fc.integer({ min: 1_000, max: 8_000 }).map((n) => `Bearer ${"x".repeat(n)}`),
  );
}

/** Protected calls with VALID inputs: only the credentials are wrong, so any success is a breach. */
function protectedTargets(): fc.Arbitrary<Probe> {
  const list: Probe[] = [
    {
      api: "rest",
      method: "POST",
      path: "/api/v1/orders",
      headers: json,
      body: '{"amount":100,"description":"forged"}',
      names: [],
      statuses: [],
    },
    {
      api: "rest",
      method: "POST",
      path: "/api/v1/accounts/me/top-up",
      headers: json,
      body: '{"amount":100}',
      names: [],
      statuses: [],
    },
    {
      api: "rest",
      method: "POST",
      path: "/api/v1/accounts",
      headers: json,
      body: "{}",
      names: [],
      statuses: [],
    },
    { api: "rest", method: "GET", path: "/api/v1/auth/me", headers: {}, names: [], statuses: [] },
    { api: "rest", method: "GET", path: "/api/v1/accounts/me", headers: {}, names: [], statuses: [] },
    { api: "rest", method: "GET", path: "/api/v1/orders", headers: {}, names: [], statuses: [] },
    {
      api: "trpc",
      method: "POST",
      path: "/api/trpc/orders.create",
      headers: json,
      body: '{"amount":100,"description":"forged"}',
      names: [],
      statuses: [],
    },
    {
      api: "trpc",
      method: "POST",
      path: "/api/trpc/payments.topUp",
      headers: json,
      body: '{"amount":100}',
      names: [],
      statuses: [],
    },
    {
      api: "trpc",
      method: "POST",
      path: "/api/trpc/payments.createAccount",
      headers: json,
      body: "{}",
      names: [],
      statuses: [],
    },
    { api: "trpc", method: "GET", path: "/api/trpc/auth.me", headers: {}, names: [], statuses: [] },
    ...adminTargets(),
  ];
  return fc.constantFrom(...list);
}

function adminTargets(): Probe[] {
  const credentials = '{"email":"forged-admin@shop.test","password":"password-123"}';
  return [
    {
      api: "rest",
      method: "POST",
      path: `/api/v1/admin/users/${shopper.id}/top-up`,
      headers: json,
      body: '{"amount":100}',
      names: [],
      statuses: [],
    },
    {
      api: "rest",
      method: "POST",
      path: "/api/v1/admin/admins",
      headers: json,
      body: credentials,
      names: [],
      statuses: [],
    },
    { api: "rest", method: "GET", path: "/api/v1/admin/users", headers: {}, names: [], statuses: [] },
    {
      api: "trpc",
      method: "POST",
      path: "/api/trpc/admin.topUp",
      headers: json,
      body: JSON.stringify({ userId: shopper.id, amount: 100 }),
      names: [],
      statuses: [],
    },
    {
      api: "trpc",
      method: "POST",
      path: "/api/trpc/admin.createAdmin",
      headers: json,
      body: credentials,
      names: [],
      statuses: [],
    },
    { api: "trpc", method: "GET", path: "/api/trpc/admin.findUsers", headers: {}, names: [], statuses: [] },
  ];
}

describe("WebSocket fuzzing", () => {
  const wsUrl = () => `${base.replace(/^http/, "ws")}/api/trpc-ws`;

  /**
   * The server is alive and still serves its other sockets: a feed opened before the fuzzing gets the
   * event of an order placed after it, and a fresh socket still subscribes.
   */
  async function stillServing(sentinel: ReturnType<typeof subscribeFeed>) {
    expect((await fetch(`${base}/api/health`)).status).toBe(200);
    const api = apiClient(base, shopper.token);
    const { order } = await api.createOrder(1, `after websocket fuzzing ${randomUUID()}`);
    await waitFor(() => sentinel.events.some((e) => e.orderId === order.id), {
      what: "the sentinel feed to get the new order",
    });
    expect(sentinel.errors).toEqual([]);
    const fresh = subscribeFeed(base, shopper.token, "orders.onStatusChange");
    try {
      await waitFor(() => fresh.isStarted(), { what: "a fresh subscription" });
    } finally {
      fresh.close();
    }
    await waitUntilIdle(system.dbs.urls);
  }

  it("tRPC messages of every shape (unknown methods, huge ids, queries and mutations, batches, non-JSON, binary, too big): well-formed answers, nothing runs, nothing changes", async () => {
    const sentinel = subscribeFeed(base, shopper.token, "orders.onStatusChange");
    try {
      await waitFor(() => sentinel.isStarted(), { what: "the sentinel feed" });
      await holds(
        fc.oneof(wsProbe(shopper.token), wsProbe(adminToken), wsProbe(null)),
        (probe) => judgeWs(wsUrl(), probe),
        120,
      );
      await stillServing(sentinel);
    } finally {
      sentinel.close();
    }
  });

  it("malformed frames at the byte level (bad opcodes, reserved bits, unmasked, lying lengths): the server survives", async () => {
    const sentinel = subscribeFeed(base, shopper.token, "orders.onStatusChange");
    try {
      await waitFor(() => sentinel.isStarted(), { what: "the sentinel feed" });
      await holds(
        fc.array(rawWsFrame, { minLength: 1, maxLength: 4 }),
        async (frames) => {
          for (const frame of frames) await sendRawWsBytes(wsUrl(), frame);
        },
        80,
      );
      await stillServing(sentinel);
    } finally {
      sentinel.close();
    }
  });
});

describe("known bugs (each test fails once its bug is fixed: then drop its KNOWN_BUGS entry)", () => {
  it("admin user search with a NUL in the email fragment or cursor is a 400, not a 500", async () => {
    const res = await fetch(`${base}/api/v1/admin/users?email=a%00b`, { headers: bearer(adminToken) });
    expect(res.status).toBe(400);
    const trpcRes = await fetch(
      `${base}/api/trpc/admin.findUsers?input=${pct(JSON.stringify({ cursor: "a\u0000" }))}`,
      {
        headers: bearer(adminToken),
      },
    );
    expect(trpcRes.status).toBe(400);
  });

  it("a request line or headers over Node's 16 KiB limit get a JSON error, not an empty 431", async () => {
    const res = await fetch(`${base}/api/v1/orders?q=${"x".repeat(20_000)}`, {
      headers: bearer(shopper.token),
    });
    expect(res.status).toBe(431);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  });

  it("tRPC answers an unsupported content type with a JSON content type", async () => {
    const res = await fetch(`${base}/api/trpc/orders.create`, {
      method: "POST",
      headers: { ...bearer(shopper.token), "content-type": "text/plain" },
      body: '{"amount":100,"description":"x"}',
    });
    expect(res.status).toBe(415);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  });
});
