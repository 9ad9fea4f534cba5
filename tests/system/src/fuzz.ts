// The input fuzzer's toolkit (test/fuzz.test.ts holds the properties): requests as data (`Probe`), the
// judge of an answer (never a 5xx; a refusal is a JSON error of the API's shape that names the field at
// fault), arbitraries of good and bad values for every kind of input, inputs built from fields with at
// least one broken, and a snapshot of the three databases to prove that nothing changed. The WebSocket
// part: tRPC protocol messages and raw frames, and the judge of what a socket answers.
import net from "node:net";
import fc from "fast-check";
import pg from "pg";
import WebSocket from "ws";
import type { ServiceDatabaseUrls } from "@gozon/core/config";
import { waitFor } from "@gozon/core/testing";

// ---------------------------------------------------------------------------------------------------
// Requests and what an answer must look like
// ---------------------------------------------------------------------------------------------------

export type Probe = {
  api: "rest" | "trpc";
  method: string;
  /** From the origin, query included. */
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
  /** Send the body chunked (no Content-Length). */
  chunked?: boolean;
  /** Names a 400 may give (one suffices); "*" takes any. */
  names: string[];
  /** The error statuses that fit; a 2xx only with `mayPass` (reads with possibly valid input). */
  statuses: number[];
  mayPass?: boolean;
  /** tRPC batch call: the answer is an array with one result per call. */
  batch?: boolean;
};

/** A JSON fragment written as is (`1e999`, `-0.0`): what JSON.stringify cannot produce. */
export class Raw {
  constructor(readonly text: string) {}
  toString() {
    return this.text;
  }
}

export type Entries = Array<[string, unknown]>;

/** Marks an array of entries as an object to encode. */
const OBJECT = Symbol("object");

/** JSON text of a value; objects are given as entries so `__proto__` stays an ordinary key. */
export function encode(value: unknown): string {
  if (value instanceof Raw) return value.text;
  if (Array.isArray(value) && (value as { [OBJECT]?: true })[OBJECT]) {
    return `{${(value as Entries).map(([k, v]) => `${JSON.stringify(k)}:${encode(v)}`).join(",")}}`;
  }
  if (Array.isArray(value)) return `[${value.map(encode).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}:${encode(v)}`)
      .join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

export const entries = (list: Entries): Entries => Object.assign(list, { [OBJECT]: true as const });

/** Percent-encodes UTF-8 bytes (lone surrogates become U+FFFD, as any client would send them). */
export function pct(text: string) {
  return [...Buffer.from(text, "utf8")]
    .map((b) =>
      /[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).padStart(2, "0").toUpperCase()}`,
    )
    .join("");
}

export const preview = (text: string | Uint8Array | undefined, max = 300) => {
  if (text === undefined) return "(none)";
  const s = typeof text === "string" ? text : `<${text.byteLength} bytes>`;
  return s.length > max ? `${JSON.stringify(s.slice(0, max))}… (${s.length} chars)` : JSON.stringify(s);
};

const describeProbe = (p: Probe) =>
  `${p.method} ${p.path.length > 300 ? `${p.path.slice(0, 300)}…` : p.path} ` +
  `headers=${JSON.stringify(Object.fromEntries(Object.entries(p.headers).map(([k, v]) => [k, v.length > 80 ? `${v.slice(0, 80)}…(${v.length})` : v])))} ` +
  `body=${preview(p.body)}`;

export async function send(base: string, p: Probe) {
  let body = p.body as RequestInit["body"];
  if (p.chunked && p.body !== undefined) {
    const bytes = typeof p.body === "string" ? new TextEncoder().encode(p.body) : p.body;
    body = new ReadableStream({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 16_384) controller.enqueue(bytes.slice(i, i + 16_384));
        controller.close();
      },
    });
  }
  const res = await fetch(`${base}${p.path}`, {
    method: p.method,
    headers: p.headers,
    body,
    signal: AbortSignal.timeout(20_000),
    ...(p.chunked ? { duplex: "half" } : {}),
  } as RequestInit);
  return { status: res.status, contentType: res.headers.get("content-type") ?? "", text: await res.text() };
}

/** The API's body limit: a larger body is refused with 413 before anything else looks at it. */
export const MAX_BODY_BYTES = 64 * 1024;
const byteLength = (body: Probe["body"]) =>
  body === undefined ? 0 : typeof body === "string" ? Buffer.byteLength(body) : body.byteLength;

/** What the judge let pass without failing, for the run's summary. */
export const fuzzStats = {
  /** Oversized bodies whose 413 the client never read: the server answered and closed while it wrote. */
  oversizedResets: 0,
  /** Known bugs met, by description. */
  knownBugHits: new Map<string, number>(),
};

/**
 * Deviations found by the fuzzer and reported, each reproduced by a `known bug` test in fuzz.test.ts
 * (which fails once the bug is fixed: then delete the entry here and turn that test into a plain one).
 */
const KNOWN_BUGS: Array<{
  what: string;
  matches: (p: Probe, res: { status: number; contentType: string }) => boolean;
}> = [];

const LEAK = /\n\s+at |prisma|SELECT |INSERT |node_modules|Error:/i;

type ErrorBody = { code: unknown; message: unknown; fields?: Record<string, string> };

/** Checks one error object; returns a problem or null. */
function checkError(p: Probe, status: number, error: ErrorBody): string | null {
  if (typeof error.code !== "string" || error.code === "") return "no error code";
  if (typeof error.message !== "string" || error.message.trim() === "") return "no error message";
  if (LEAK.test(error.message)) return `the message leaks internals: ${error.message}`;
  if (status === 400 && !p.names.includes("*")) {
    const fields = Object.keys(error.fields ?? {});
    const named =
      fields.some((f) => p.names.includes(f)) || p.names.some((n) => error.message!.toString().includes(n));
    if (!named) return `400 names none of [${p.names.join(", ")}] (fields ${JSON.stringify(error.fields)})`;
  }
  return null;
}

/** Sends the probe and fails with a precise description unless the answer is a well-formed refusal. */
export async function judge(base: string, p: Probe) {
  const oversized = byteLength(p.body) > MAX_BODY_BYTES;
  let res: Awaited<ReturnType<typeof send>>;
  try {
    res = await send(base, p);
  } catch (error) {
    const code = (error as { cause?: { code?: string } }).cause?.code;
    if (oversized && (code === "EPIPE" || code === "ECONNRESET")) {
      fuzzStats.oversizedResets++;
      return;
    }
    throw new Error(`${String(error)} (${code})\n  request:  ${describeProbe(p)}`);
  }
  const known = KNOWN_BUGS.find((bug) => bug.matches(p, res));
  if (known) {
    fuzzStats.knownBugHits.set(known.what, (fuzzStats.knownBugHits.get(known.what) ?? 0) + 1);
    return;
  }
  if (oversized && p.method !== "GET") p = { ...p, statuses: [413] };
  const fail = (why: string) => {
    throw new Error(
      `${why}\n  request:  ${describeProbe(p)}\n  response: ${res.status} ${preview(res.text, 600)}`,
    );
  };
  if (res.status >= 500) fail(`server error ${res.status}`);
  if (res.status < 300) {
    if (!p.mayPass) fail(`an invalid request succeeded (${res.status})`);
    return;
  }
  if (!p.statuses.includes(res.status)) fail(`status ${res.status}, expected one of ${p.statuses.join("/")}`);
  if (!/^application\/json\b/.test(res.contentType))
    fail(`not JSON (${res.contentType || "no content type"})`);
  let json: unknown;
  try {
    json = JSON.parse(res.text);
  } catch {
    fail("the body is not JSON");
  }
  const items = p.batch ? (json as unknown[]) : [json];
  if (!Array.isArray(items) || items.length === 0) fail("a batch answer is not an array");
  for (const item of items) {
    let error: ErrorBody | undefined;
    if (p.api === "rest") {
      error = (item as { error?: ErrorBody }).error;
    }
    let status = res.status;
    if (p.api === "trpc") {
      type TrpcError = {
        message?: unknown;
        data?: { code?: unknown; httpStatus?: unknown; fields?: Record<string, string> };
      };
      const e = (item as { error?: TrpcError }).error;
      if (p.batch) status = Number(e?.data?.httpStatus);
      else if (e && e.data?.httpStatus !== res.status)
        fail("error.data.httpStatus differs from the HTTP status");
      if (p.batch && !(status >= 400 && status < 500)) fail(`a call of the batch answered ${status}`);
      error = e ? { code: e.data?.code, message: e.message, fields: e.data?.fields } : undefined;
    }
    if (!error) fail("no error object");
    const problem = checkError(p, status, error!);
    if (problem) fail(problem);
  }
}

// ---------------------------------------------------------------------------------------------------
// Values: good ones (companions) and bad ones (each makes a request invalid)
// ---------------------------------------------------------------------------------------------------

const PIECES = [
  "\u0000",
  "\ud800",
  "\udfff",
  "\u202e",
  "\u200f",
  "\u200e",
  "\u200b",
  "\ufeff",
  "😀",
  "👩‍👩‍👧",
  "e\u0301",
  "\u0301\u0301",
  "ﷺ",
  "ß",
  "İ",
  "\u2028",
  "\\",
  '"',
  "'",
  "<script>",
  "%00",
  "${x}",
  "' OR 1=1 --",
  "\n",
  "\t",
];
export const odd = fc
  .array(fc.oneof(fc.constantFrom(...PIECES), fc.string({ unit: "binary", maxLength: 4 })), {
    minLength: 1,
    maxLength: 12,
  })
  .map((parts) => parts.join(""));
export const hugeOf = (units: string[], min = 10_000, max = 100_000) =>
  fc
    .record({ unit: fc.constantFrom(...units), n: fc.integer({ min, max }) })
    .map(({ unit, n }) => unit.repeat(Math.ceil(n / unit.length)));
/** `unit` repeated `n` times for n in [min, max]: at least `min` code points and UTF-16 units alike. */
export const repeated = (units: string[], min: number, max: number) =>
  fc
    .record({ unit: fc.constantFrom(...units), n: fc.integer({ min, max }) })
    .map(({ unit, n }) => unit.repeat(n));
export const huge = hugeOf(["x", "é", "😀", "\u202e", "e\u0301", "\u0000", "\ud800", "ы"]);
export const wrongType = fc.constantFrom<unknown>(
  null,
  true,
  false,
  [],
  {},
  [1],
  { value: 1 },
  entries([["__proto__", 1]]),
);

export const amountGood = fc.oneof(
  fc.constantFrom(1, 2, 999_999_999, 1_000_000_000),
  fc.integer({ min: 1, max: 1_000_000_000 }),
);
/** Bad amounts short enough for a URL (a query input). */
export const amountBadSmall = fc.oneof(
  fc.constantFrom<unknown>(
    0,
    -1,
    1.5,
    1e9 + 1,
    1e12,
    -1e9,
    0.5,
    999_999_999.5,
    2 ** 53,
    2 ** 53 + 2,
    1e21,
    1e308,
    -0,
    Number.MIN_VALUE,
  ),
  fc.integer({ min: -2_000_000_000, max: 0 }),
  fc.integer({ min: 1_000_000_001, max: Number.MAX_SAFE_INTEGER }),
  fc.double().filter((x) => !(Number.isInteger(x) && x >= 1 && x <= 1e9)),
  fc.constantFrom(
    "100",
    "1e3",
    " 5",
    "5 ",
    "0x10",
    "NaN",
    "Infinity",
    "-Infinity",
    "",
    "1_000",
    "١٢٣",
    "100.0",
    "+5",
    "1e9",
  ),
  fc.integer({ min: 1, max: 1_000_000_000 }).map(String),
  fc
    .constantFrom("1e999", "-1e999", "1E400", "100000000000000000000000000000", "-0.0", "1.0e-999")
    .map((t) => new Raw(t)),
  wrongType,
  odd,
);
export const amountBad = fc.oneof(amountBadSmall, huge);

const WHITESPACE = [
  " ",
  "\t",
  "\n",
  "\r",
  "\v",
  "\f",
  "\u00a0",
  "\u3000",
  "\u2028",
  "\u2029",
  "\ufeff",
  "\u1680",
  "\u2003",
  "\u202f",
  "\u205f",
];
export const descriptionGood = fc.oneof(
  fc.constantFrom(
    "x",
    "😀".repeat(500),
    "e\u0301".repeat(250),
    "\u202eמתנה",
    "  padded  ",
    "a".repeat(500),
    "Ёлочные игрушки 🎄",
  ),
  fc
    .string({ unit: "grapheme", minLength: 1, maxLength: 40 })
    .filter((s) => s.trim() !== "" && !s.includes("\u0000")),
);
export const descriptionBad = fc.oneof(
  fc.oneof(wrongType, fc.integer()),
  fc.array(fc.constantFrom(...WHITESPACE), { maxLength: 20 }).map((ws) => ws.join("")),
  fc.tuple(descriptionGood, descriptionGood).map(([a, b]) => `${a.slice(0, 200)}\u0000${b.slice(0, 200)}`),
  fc
    .tuple(
      fc.string({ unit: "grapheme", maxLength: 20 }),
      fc.constantFrom("\ud800x", "x\udc00", "\udbff!", "?\udfff"),
    )
    .map(([a, lone]) => `${a}${lone}`),
  repeated(["x", "😀", "e\u0301", "ы", "\u202e", "👩‍👩‍👧"], 501, 1_500), // over 500 code points, no whitespace
  huge,
);

export const emailGood = fc.constantFrom("fuzz-valid@shop.test", " UPPER@Shop.Test ");
export const emailBad = fc.oneof(
  wrongType,
  odd.filter((s) => !s.includes("@")),
  hugeOf(["x", "é", "😀"], 255, 100_000),
  fc.constantFrom(
    "",
    " ",
    "a@",
    "@x.io",
    "a@b",
    "a@@x.io",
    "a b@x.io",
    "a@x..io",
    `${"a".repeat(250)}@x.io`,
    "a@x.io\u0000",
    "a@\u202ex.io",
    ".a@x.io",
  ),
);
export const passwordGood = fc.constantFrom("password-123", "😀😀😀😀😀😀😀😀");
const tooLongPassword = repeated(["x", "😀", "ы"], 129, 5_000);
export const newPasswordBad = fc.oneof(
  wrongType,
  fc.string({ maxLength: 7 }).filter((s) => s.length <= 7),
  tooLongPassword,
  huge,
);
export const passwordBad = fc.oneof(wrongType, fc.constant(""), tooLongPassword, huge);

export const uuidBad = fc.oneof(
  fc.constantFrom(
    "",
    "nope",
    "0",
    "null",
    "undefined",
    "../../etc/passwd",
    "' OR 1=1 --",
    "%00",
    "00000000-0000-0000-0000-00000000000",
    "00000000-0000-0000-0000-0000000000000",
    "g0000000-0000-4000-8000-000000000000",
  ),
  fc.uuid().map((u) => `${u}x`),
  fc.uuid().map((u) => ` ${u}`),
  fc.uuid().map((u) => u.replace(/-/g, "")),
  odd,
);
export const keyBad = fc.oneof(
  fc.constantFrom("", "é", "\u00ff", "a\tb", "ключ".replace(/./g, "\u00e9")),
  fc.integer({ min: 256, max: 8_000 }).map((n) => "k".repeat(n)),
);
export const latin1 = fc.string({
  unit: fc
    .integer({ min: 0x21, max: 0xff })
    .filter((c) => c !== 0x7f)
    .map((c) => String.fromCharCode(c)),
  minLength: 1,
  maxLength: 200,
});

// ---------------------------------------------------------------------------------------------------
// Inputs built from fields: each field good, bad or missing, at least one broken; plus unknown fields
// (each of them broken too)
// ---------------------------------------------------------------------------------------------------

export type Field = {
  name: string;
  at?: "body" | "header" | "path";
  good: fc.Arbitrary<unknown>;
  bad: fc.Arbitrary<unknown>;
  optional?: boolean;
};

export type Built = {
  body: Entries;
  headers: Record<string, string>;
  path: Record<string, string>;
  broken: string[];
};

const EXTRA_KEYS = [
  "role",
  "status",
  "balance",
  "id",
  "__proto__",
  "constructor",
  "prototype",
  "AMOUNT",
  "amount ",
  "isAdmin",
];

export function build(fields: Field[], requireBroken = true): fc.Arbitrary<Built> {
  const names = new Set(fields.map((f) => f.name));
  const modes = fields.map((f) =>
    fc.oneof(
      fc.record({ mode: fc.constant("bad" as const), value: f.bad }),
      fc.record({ mode: fc.constant("good" as const), value: f.good }),
      fc.record({
        mode: fc.constant(f.at === "path" ? ("bad" as const) : ("missing" as const)),
        value: f.at === "path" ? f.bad : fc.constant(undefined),
      }),
    ),
  );
  const extras = fc.array(
    fc.tuple(
      fc.oneof(fc.constantFrom(...EXTRA_KEYS), fc.string({ maxLength: 8 })),
      fc.oneof(wrongType, odd, fc.integer()),
    ),
    { maxLength: 3 },
  );
  return fc
    .tuple(fc.tuple(...modes), extras)
    .map(([chosen, extra]) => {
      const built: Built = { body: entries([]), headers: {}, path: {}, broken: [] };
      // An unknown field is itself a fault: the API names it in its 400 (it is never silently dropped).
      for (const [key, value] of extra) {
        if (names.has(key) || built.body.some(([existing]) => existing === key)) continue;
        built.body.push([key, value]);
        built.broken.push(key);
      }
      chosen.forEach(({ mode, value }, i) => {
        const f = fields[i]!;
        if (mode === "bad" || (mode === "missing" && !f.optional)) built.broken.push(f.name);
        if (mode === "missing") return;
        if (f.at === "header" && value === undefined) return;
        if (f.at === "header") built.headers[f.name] = String(value);
        else if (f.at === "path") built.path[f.name] = String(value);
        else built.body.push([f.name, value]);
      });
      return built;
    })
    .filter((b) => !requireBroken || b.broken.length > 0);
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
export const json = { "content-type": "application/json" };

// ---------------------------------------------------------------------------------------------------
// No change in any database
// ---------------------------------------------------------------------------------------------------

/** Row counts and last updates of every table, balances and refresh-token states of the three databases. */
export async function snapshotDatabases(urls: ServiceDatabaseUrls) {
  const state: Record<string, unknown> = {};
  for (const [service, url] of Object.entries(urls)) {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows: tables } = await client.query<{ table_name: string; has_updated: boolean }>(
        `SELECT t.table_name,
                EXISTS (SELECT 1 FROM information_schema.columns c
                        WHERE c.table_schema = 'public' AND c.table_name = t.table_name AND c.column_name = 'updated_at') AS has_updated
         FROM information_schema.tables t
         WHERE t.table_schema = 'public' AND t.table_type = 'BASE TABLE' AND t.table_name <> '_prisma_migrations'
         ORDER BY 1`,
      );
      for (const { table_name: table, has_updated } of tables) {
        const { rows } = await client.query(
          `SELECT count(*)::int AS n${has_updated ? ", max(updated_at)::text AS last" : ""} FROM "${table}"`,
        );
        state[`${service}.${table}`] = rows[0];
      }
      if (service === "payments") {
        state.balances = (
          await client.query("SELECT user_id, balance::text FROM accounts ORDER BY user_id")
        ).rows;
      }
      if (service === "identity") {
        state.tokens = (
          await client.query(
            "SELECT count(*) FILTER (WHERE used_at IS NOT NULL)::int AS used, count(*) FILTER (WHERE revoked_at IS NOT NULL)::int AS revoked FROM refresh_tokens",
          )
        ).rows[0];
      }
    } finally {
      await client.end();
    }
  }
  return state;
}

/** Waits until nothing is in flight (an earlier failing property may have placed an order). */
export async function waitUntilIdle(urls: ServiceDatabaseUrls) {
  const count = async (url: string, sql: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return Number((await client.query<{ n: string }>(sql)).rows[0]?.n);
    } finally {
      await client.end();
    }
  };
  await waitFor(
    async () =>
      (await count(
        urls.orders,
        "SELECT (SELECT count(*) FROM orders WHERE status = 'NEW') + (SELECT count(*) FROM outbox WHERE sent_at IS NULL) AS n",
      )) === 0 &&
      (await count(
        urls.payments,
        "SELECT (SELECT count(*) FROM inbox WHERE processed_at IS NULL) + (SELECT count(*) FROM outbox WHERE sent_at IS NULL) AS n",
      )) === 0,
    { what: "the system to be idle" },
  );
}

// ---------------------------------------------------------------------------------------------------
// The WebSocket protocol
// ---------------------------------------------------------------------------------------------------

export type WsFrame = { data: string | Uint8Array; binary: boolean };
/** Frames sent on one tRPC WebSocket, signed in with `token` (connection params) or anonymous. */
export type WsProbe = { token: string | null; frames: WsFrame[] };

/** The server's frame limit (apps/web/src/server/websocket.ts maxPayload): a larger one closes with 1009. */
export const WS_MAX_PAYLOAD = 64 * 1024;

/**
 * How the server may end a fuzzed socket: normal, protocol error, invalid UTF-8, too big, or (tRPC,
 * after malformed connection params) a close without a status.
 */
const WS_CLOSE_CODES = new Set([1000, 1002, 1005, 1007, 1009]);

const wsId = fc.oneof(
  fc.integer(),
  fc.string({ maxLength: 40 }),
  fc.double(),
  fc.constantFrom<unknown>(0, -1, 2 ** 53, 2 ** 64, 1e308, -0, null, "", {}, [], true),
  hugeOf(["9", "x", "😀"], 1_000, 10_000),
);
const wsMethod = fc.oneof(
  fc.constantFrom<unknown>(
    "query",
    "mutation",
    "subscription",
    "subscription.stop",
    "connectionParams",
    "reconnect",
    "__proto__",
    "constructor",
    "",
  ),
  fc.string({ maxLength: 20 }),
  wrongType,
);
/** Procedures of every kind (a query or mutation must be refused over the socket), and nonsense. */
export const WS_PROCEDURES = [
  "orders.onStatusChange",
  "admin.orderFeed",
  "payments.createAccount",
  "payments.topUp",
  "auth.login",
  "auth.register",
  "auth.refresh",
  "auth.logout",
  "orders.create",
  "orders.list",
  "admin.topUp",
  "admin.createAdmin",
] as const;
const wsPath = fc.oneof(
  fc.constantFrom<unknown>(...WS_PROCEDURES, "nope", "__proto__", "orders.onStatusChange.x", "", "."),
  fc.string({ maxLength: 30 }),
  hugeOf(["a", "."], 1_000, 5_000),
  wrongType,
);
const wsInput = fc.oneof(
  fc.constant(undefined),
  wrongType,
  odd,
  fc.record({
    lastEventId: fc.oneof(fc.string({ maxLength: 60 }), odd, hugeOf(["9", "x"], 100, 2_000), wrongType),
  }),
  fc.record({ amount: amountBad, description: descriptionBad }),
  fc.record({ email: emailBad, password: passwordBad }),
);
const wsMessage = fc.record(
  {
    id: wsId,
    jsonrpc: fc.constantFrom<unknown>("2.0", "1.0", 2),
    method: wsMethod,
    params: fc.oneof(
      fc.record(
        {
          path: wsPath,
          input: wsInput,
          lastEventId: fc.oneof(fc.string({ maxLength: 60 }), hugeOf(["9", "x"], 100, 2_000), wrongType),
        },
        { requiredKeys: [] },
      ),
      wrongType,
    ),
    data: wrongType,
  },
  { requiredKeys: [] },
);
/** A well-formed query or mutation, often with valid input: over the socket each must be refused. */
const wsCall = fc.record({
  id: fc.integer({ min: 1, max: 1_000_000 }),
  method: fc.constantFrom("query", "mutation"),
  params: fc.record(
    {
      path: fc.constantFrom(...WS_PROCEDURES),
      input: fc.oneof(
        fc.constant({}),
        fc.record({ amount: amountGood, description: descriptionGood }),
        fc.record({ email: emailGood, password: passwordGood }),
      ),
    },
    { requiredKeys: ["path"] },
  ),
});
const text = (data: string): WsFrame => ({ data, binary: false });

/** One frame: a (mostly malformed) tRPC message or a batch of them, non-JSON text, binary, or too big. */
export const wsFrame: fc.Arbitrary<WsFrame> = fc.oneof(
  { weight: 4, arbitrary: wsMessage.map((m) => text(encode(m))) },
  { weight: 2, arbitrary: wsCall.map((m) => text(encode(m))) },
  { weight: 2, arbitrary: fc.array(wsMessage, { maxLength: 20 }).map((ms) => text(encode(ms))) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 200 }).map(text) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom("{", "[", "null", "1", '""', "[[[[", '{"id":', "PING", "PONG", "\u0000", "[]", "{}")
      .map(text),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 500 }).map((data) => ({ data, binary: true })) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1_000, max: WS_MAX_PAYLOAD - 200 }).map((n) =>
      text(
        encode({
          id: 1,
          method: "subscription",
          params: { path: WS_PROCEDURES[0], input: { lastEventId: "9".repeat(n) } },
        }),
      ),
    ),
  },
  { weight: 1, arbitrary: hugeOf(["x", "[", "😀"], WS_MAX_PAYLOAD + 1, WS_MAX_PAYLOAD * 2).map(text) },
);

export const wsProbe = (token: string | null): fc.Arbitrary<WsProbe> =>
  fc.array(wsFrame, { minLength: 1, maxLength: 6 }).map((frames) => ({ token, frames }));

/** Frame ids of the calls that are not subscriptions: a `data` result for one means it ran. */
function nonSubscriptionIds(frames: WsFrame[]) {
  const ids = new Set<unknown>();
  const subscriptions = new Set<unknown>();
  for (const frame of frames) {
    if (frame.binary) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(frame.data as string);
    } catch {
      continue;
    }
    for (const m of Array.isArray(parsed) ? parsed : [parsed]) {
      if (!m || typeof m !== "object") continue;
      const { id, method } = m as { id?: unknown; method?: unknown };
      (method === "subscription" ? subscriptions : ids).add(id);
    }
  }
  for (const id of subscriptions) ids.delete(id);
  return ids;
}

/**
 * Opens a tRPC WebSocket, sends the probe's frames and a PING, and reads until the PONG (the server
 * answers it only after reading every frame before it) or the server's close. Fails unless the server
 * answered with well-formed JSON, leaked nothing, ran no query or mutation, and ended the socket, if at
 * all, with a close code that fits what was sent.
 */
export async function judgeWs(wsUrl: string, p: WsProbe) {
  const ws = new WebSocket(p.token ? `${wsUrl}?connectionParams=1` : wsUrl);
  const replies: string[] = [];
  ws.on("message", (data, isBinary) => replies.push(isBinary ? "<binary>" : String(data)));
  ws.on("error", () => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on("close", (code, reason) => resolve({ code, reason: String(reason) })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.once("error", reject);
  });
  const describe = () =>
    `  frames:  ${p.frames.map((f) => preview(f.data, 200)).join("\n           ")}\n` +
    `  replies: ${replies.map((r) => preview(r, 300)).join("\n           ")}`;
  const fail = (why: string): never => {
    ws.terminate();
    throw new Error(`${why}\n${describe()}`);
  };

  if (p.token) ws.send(JSON.stringify({ method: "connectionParams", data: { token: p.token } }));
  for (const frame of p.frames) {
    if (ws.readyState !== WebSocket.OPEN) break;
    ws.send(frame.data, { binary: frame.binary });
  }
  if (ws.readyState === WebSocket.OPEN) ws.send("PING");
  const ended = await Promise.race([
    closed,
    waitFor(() => replies.includes("PONG"), { timeoutMs: 15_000, what: "the PONG" }).then(() => null),
  ]).catch((error: unknown) => fail(String(error)));
  if (ended && !WS_CLOSE_CODES.has(ended.code)) fail(`closed with ${ended.code} ${ended.reason}`);
  if (ended?.code === 1009 && !p.frames.some((f) => byteLength(f.data) > WS_MAX_PAYLOAD)) {
    fail("closed as too big, but no frame was");
  }

  const refused = nonSubscriptionIds(p.frames);
  for (const reply of replies) {
    if (reply === "PING" || reply === "PONG") continue;
    let message: {
      id?: unknown;
      result?: { type?: unknown };
      error?: { message?: unknown; data?: { code?: unknown } };
    };
    try {
      message = JSON.parse(reply) as typeof message;
    } catch {
      fail("a reply is not JSON");
      return;
    }
    if (message.error) {
      const { message: text, data } = message.error;
      if (typeof text !== "string" || text.trim() === "") fail("an error without a message");
      if (LEAK.test(String(text))) fail(`an error leaks internals: ${String(text)}`);
      if (typeof data?.code !== "string") fail("an error without a code");
      if (data?.code === "INTERNAL_SERVER_ERROR") fail("an internal server error");
      if ("stack" in (data ?? {})) fail("an error with a stack");
    } else if (message.result?.type === "data" && refused.has(message.id)) {
      fail(`a query or mutation ran over the WebSocket (id ${JSON.stringify(message.id)})`);
    }
  }
  if (!ended) {
    ws.close();
    await closed;
  }
}

/** A frame at the byte level: any header bits, opcode, mask and declared length (up to 2^64-1). */
export const rawWsFrame = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 300 }),
  fc
    .record({
      fin: fc.boolean(),
      rsv: fc.integer({ min: 0, max: 7 }),
      opcode: fc.integer({ min: 0, max: 15 }),
      masked: fc.boolean(),
      lengthField: fc.oneof(fc.integer({ min: 0, max: 125 }), fc.constantFrom(126, 127)),
      declared: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      payload: fc.uint8Array({ maxLength: 200 }),
    })
    .map(({ fin, rsv, opcode, masked, lengthField, declared, payload }) => {
      const head = [(fin ? 0x80 : 0) | (rsv << 4) | opcode, (masked ? 0x80 : 0) | lengthField];
      const extended = Buffer.alloc(lengthField === 126 ? 2 : lengthField === 127 ? 8 : 0);
      if (lengthField === 126) extended.writeUInt16BE(Number(declared & 0xffffn));
      if (lengthField === 127) extended.writeBigUInt64BE(declared);
      const mask = masked ? Buffer.from([0x12, 0x34, 0x56, 0x78]) : Buffer.alloc(0);
      return new Uint8Array(Buffer.concat([Buffer.from(head), extended, mask, Buffer.from(payload)]));
    }),
);

/**
 * Upgrades a plain TCP connection by hand and writes `bytes` as they are: frames the `ws` client
 * would never send. Resolves once the server closed the connection, or after `lingerMs` (a frame
 * declaring more bytes than were sent leaves the server waiting, as it should).
 */
export async function sendRawWsBytes(wsUrl: string, bytes: Uint8Array, lingerMs = 300) {
  const url = new URL(wsUrl);
  const socket = net.connect(Number(url.port), url.hostname);
  socket.on("error", () => undefined);
  let head = "";
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () =>
      socket.write(
        `GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      ),
    );
    const onData = (chunk: Buffer) => {
      head += chunk.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      socket.off("data", onData);
      if (head.startsWith("HTTP/1.1 101")) resolve();
      else reject(new Error(`upgrade refused: ${head.split("\r\n")[0]}`));
    };
    socket.on("data", onData);
    socket.once("close", () => reject(new Error("closed during the upgrade")));
  });
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.write(bytes);
  const timer = new Promise<void>((resolve) => setTimeout(resolve, lingerMs));
  await Promise.race([closed, timer]);
  socket.destroy();
}
