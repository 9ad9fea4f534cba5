// Generates the Postman collection docs/postman/gozon.postman_collection.json from the OpenAPI document
// (openapi-to-postmanv2), then turns it into a runnable scenario: register, log in, open an account,
// top up, place an order, poll it until it is paid, and the admin's side when admin credentials are set.
//
//   npm run postman              writes the collection
//   npm run postman -- --check   exits 1 if the committed collection differs from a fresh generation
//
// The output is deterministic (stable ids, seeded example values), so it is committed and checked in CI.
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { convertV2 } from "openapi-to-postmanv2";
import * as prettier from "prettier";
import { generateOpenApiDocument } from "@gozon/api/openapi";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const COLLECTION_FILE = path.join(repoRoot, "docs/postman/gozon.postman_collection.json");
/** Where `npm start` and `docker compose up` serve the REST API. */
export const DEFAULT_BASE_URL = "http://localhost:3000/api/v1";
/** The development admin of `npm start` and of docker-compose.yml's defaults. */
const DEV_ADMIN = { email: "admin@gozon.local", password: "gozon-admin" };

type Json = Record<string, unknown>;
type KeyValue = { key: string; value?: string | null; disabled?: boolean; [more: string]: unknown };
type PostmanRequest = {
  method: string;
  url: { path: string[]; host: string[]; query: KeyValue[]; variable: KeyValue[] };
  header: KeyValue[];
  body?: { mode: string; raw?: string; options?: unknown };
  auth?: unknown;
  [more: string]: unknown;
};
type PostmanItem = {
  id?: string;
  name: string;
  description?: string;
  request: PostmanRequest;
  response?: Json[];
  event?: PostmanEvent[];
};
type PostmanFolder = { name: string; description?: string; item: PostmanItem[]; event?: PostmanEvent[] };
type PostmanEvent = { listen: "prerequest" | "test"; script: { type: "text/javascript"; exec: string[] } };
type Collection = {
  info: Json;
  item: PostmanFolder[];
  auth?: unknown;
  event?: PostmanEvent[];
  variable?: KeyValue[];
};

type Operation = `${"GET" | "POST"} /${string}`;

/** One request of the scenario, made from the generated request of `operation`. */
type Step = {
  operation: Operation;
  name: string;
  description: string;
  /** Default: the collection's bearer `{{accessToken}}`. */
  auth?: "none" | "admin";
  body?: Json;
  /** Query parameters to send; the operation's other parameters stay listed but disabled. */
  query?: Record<string, string>;
  path?: Record<string, string>;
  idempotencyKey?: boolean;
  prerequest?: string[];
  test: string[];
};

type Folder = { name: string; description: string; prerequest?: string[]; steps: Step[] };

const status = (code: number, text: string) => [
  `pm.test("${code} ${text}", () => pm.response.to.have.status(${code}));`,
];

const scenario: Folder[] = [
  {
    name: "Shopper: order scenario",
    description:
      "A new shopper each run: register, log in, open an account, top up 1 000,00, order 250,00, " +
      "poll the order until the payment settles it (FINISHED), check the balance, refresh and log out.",
    steps: [
      {
        operation: "POST /auth/register",
        name: "Register a shopper",
        description: "A unique email per run, so the collection can run again against the same server.",
        auth: "none",
        prerequest: [
          "const runId = Date.now().toString(36) + Math.random().toString(36).slice(2, 8);",
          'pm.collectionVariables.set("email", "shopper-" + runId + "@example.com");',
        ],
        body: { email: "{{email}}", password: "{{password}}" },
        test: [
          ...status(201, "Created"),
          "const body = pm.response.json();",
          'pm.test("a shopper", () => pm.expect(body.user.role).to.eql("SHOPPER"));',
          'pm.collectionVariables.set("userId", body.user.id);',
          'pm.collectionVariables.set("accessToken", body.accessToken);',
        ],
      },
      {
        operation: "POST /auth/login",
        name: "Log in",
        description: "Stores the access token (sent as `Authorization: Bearer`) and the refresh token.",
        auth: "none",
        body: { email: "{{email}}", password: "{{password}}" },
        test: [
          ...status(200, "OK"),
          "const body = pm.response.json();",
          'pm.collectionVariables.set("accessToken", body.accessToken);',
          'pm.collectionVariables.set("refreshToken", body.refreshToken);',
        ],
      },
      {
        operation: "GET /auth/me",
        name: "Who am I",
        description: "The signed-in user.",
        test: [
          ...status(200, "OK"),
          'pm.test("the new shopper", () => pm.expect(pm.response.json().user.email).to.eql(pm.collectionVariables.get("email")));',
        ],
      },
      {
        operation: "POST /accounts",
        name: "Open the account",
        description: "One account (wallet) per user, balance 0.",
        test: [
          ...status(201, "Created"),
          'pm.test("balance 0", () => pm.expect(pm.response.json().account.balance).to.eql(0));',
        ],
      },
      {
        operation: "POST /accounts/me/top-up",
        name: "Top up 1 000,00",
        description: "Amounts are integers in kopecks: 100000 is 1 000,00 ₽.",
        idempotencyKey: true,
        body: { amount: 100000 },
        test: [
          ...status(200, "OK"),
          'pm.test("balance 1 000,00", () => pm.expect(pm.response.json().account.balance).to.eql(100000));',
        ],
      },
      {
        operation: "GET /accounts/me",
        name: "My account",
        description: "The account and its balance.",
        test: [
          ...status(200, "OK"),
          'pm.test("balance 1 000,00", () => pm.expect(pm.response.json().account.balance).to.eql(100000));',
        ],
      },
      {
        operation: "POST /orders",
        name: "Place an order of 250,00",
        description: "The order starts NEW; payment happens asynchronously.",
        idempotencyKey: true,
        body: { amount: 25000, description: "Postman order" },
        test: [
          ...status(201, "Created"),
          "const order = pm.response.json().order;",
          'pm.test("the order is NEW", () => pm.expect(order.status).to.eql("NEW"));',
          'pm.collectionVariables.set("orderId", order.id);',
          'pm.collectionVariables.set("pollAttempt", "0");',
        ],
      },
      {
        operation: "GET /orders/{id}",
        name: "Poll the order until it settles",
        description:
          "Repeats itself (postman.setNextRequest) while the order is NEW, every `pollIntervalMs`, " +
          "at most `pollMaxAttempts` times; then the order must be FINISHED.",
        path: { id: "{{orderId}}" },
        prerequest: [
          'if (Number(pm.collectionVariables.get("pollAttempt") || 0) > 0) {',
          '  setTimeout(() => {}, Number(pm.collectionVariables.get("pollIntervalMs") || 500));',
          "}",
        ],
        test: [
          ...status(200, "OK"),
          "const order = pm.response.json().order;",
          'const attempt = Number(pm.collectionVariables.get("pollAttempt") || 0) + 1;',
          'const maxAttempts = Number(pm.collectionVariables.get("pollMaxAttempts") || 120);',
          'if (order.status === "NEW" && attempt < maxAttempts) {',
          '  pm.collectionVariables.set("pollAttempt", String(attempt));',
          "  postman.setNextRequest(pm.info.requestId);",
          "} else {",
          '  pm.collectionVariables.set("pollAttempt", "0");',
          '  pm.test("the order is paid: FINISHED", () => pm.expect(order.status).to.eql("FINISHED"));',
          "}",
        ],
      },
      {
        operation: "GET /orders",
        name: "List my orders",
        description: "Newest first; `nextCursor` pages on.",
        query: { limit: "10" },
        test: [
          ...status(200, "OK"),
          "const [latest] = pm.response.json().orders;",
          'pm.test("the order is listed, FINISHED", () => {',
          '  pm.expect(latest.id).to.eql(pm.collectionVariables.get("orderId"));',
          '  pm.expect(latest.status).to.eql("FINISHED");',
          "});",
        ],
      },
      {
        operation: "GET /accounts/me",
        name: "Balance after the payment",
        description: "1 000,00 − 250,00 = 750,00.",
        test: [
          ...status(200, "OK"),
          'pm.test("balance 750,00", () => pm.expect(pm.response.json().account.balance).to.eql(75000));',
        ],
      },
      {
        operation: "GET /accounts/me/ledger",
        name: "My statement",
        description:
          "Every change of the balance, newest first: the order's debit (negative) and the top-up, each " +
          "with the balance right after it.",
        query: { limit: "20" },
        test: [
          ...status(200, "OK"),
          "const [debit, topUp] = pm.response.json().entries;",
          'pm.test("the debit of the order, then the top-up", () => {',
          '  pm.expect(debit).to.include({ kind: "ORDER_DEBIT", amount: -25000, balanceAfter: 75000 });',
          '  pm.expect(debit.orderId).to.eql(pm.collectionVariables.get("orderId"));',
          '  pm.expect(topUp).to.include({ kind: "TOP_UP", amount: 100000, balanceAfter: 100000 });',
          "});",
        ],
      },
      {
        operation: "GET /orders/{id}",
        name: "The order's history",
        description: "The order with its changes, oldest first: placed (NEW), then paid (FINISHED).",
        path: { id: "{{orderId}}" },
        test: [
          ...status(200, "OK"),
          'pm.test("NEW, then FINISHED", () => pm.expect(pm.response.json().history.map((h) => h.status)).to.eql(["NEW", "FINISHED"]));',
        ],
      },
      {
        operation: "POST /auth/password",
        name: "Change the password",
        description:
          "Every session of the shopper ends, the one the call is made in too; the answer starts a new one.",
        body: { currentPassword: "{{password}}", newPassword: "{{newPassword}}" },
        test: [
          ...status(200, "OK"),
          "const body = pm.response.json();",
          'pm.collectionVariables.set("accessToken", body.accessToken);',
          'pm.collectionVariables.set("refreshToken", body.refreshToken);',
        ],
      },
      {
        operation: "POST /auth/refresh",
        name: "Refresh the tokens",
        description: "Exchanges the refresh token for a new pair; the old refresh token is spent.",
        auth: "none",
        body: { refreshToken: "{{refreshToken}}" },
        test: [
          ...status(200, "OK"),
          "const body = pm.response.json();",
          'pm.collectionVariables.set("accessToken", body.accessToken);',
          'pm.collectionVariables.set("refreshToken", body.refreshToken);',
        ],
      },
      {
        operation: "POST /auth/logout",
        name: "Log out",
        description: "Revokes the refresh token.",
        auth: "none",
        body: { refreshToken: "{{refreshToken}}" },
        test: [...status(200, "OK")],
      },
    ],
  },
  {
    name: "Admin",
    description:
      "Runs when `adminEmail` and `adminPassword` name an admin (the server's ADMIN_EMAIL / " +
      "ADMIN_PASSWORD); set `adminEmail` empty to skip it.",
    prerequest: ['if (!pm.variables.get("adminEmail")) pm.execution.skipRequest();'],
    steps: [
      {
        operation: "POST /auth/login",
        name: "Admin: log in",
        description: "Stores the admin's access token as `adminToken`.",
        auth: "none",
        body: { email: "{{adminEmail}}", password: "{{adminPassword}}" },
        test: [
          ...status(200, "OK"),
          "const body = pm.response.json();",
          'pm.test("an admin", () => pm.expect(body.user.role).to.eql("ADMIN"));',
          'pm.collectionVariables.set("adminToken", body.accessToken);',
        ],
      },
      {
        operation: "GET /admin/users",
        name: "Admin: find the shopper",
        description: "By a fragment of the email.",
        auth: "admin",
        query: { email: "{{email}}" },
        test: [
          ...status(200, "OK"),
          'const user = pm.response.json().users.find((u) => u.id === pm.collectionVariables.get("userId"));',
          'pm.test("found, balance 750,00", () => pm.expect(user.account.balance).to.eql(75000));',
        ],
      },
      {
        operation: "POST /admin/users/{userId}/top-up",
        name: "Admin: top up the shopper by 50,00",
        description: "Any shopper's account.",
        auth: "admin",
        path: { userId: "{{userId}}" },
        idempotencyKey: true,
        body: { amount: 5000 },
        test: [
          ...status(200, "OK"),
          'pm.test("balance 800,00", () => pm.expect(pm.response.json().account.balance).to.eql(80000));',
        ],
      },
      {
        operation: "GET /admin/users/{userId}",
        name: "Admin: the shopper's page",
        description: "The user, their account, latest orders and latest ledger entries.",
        auth: "admin",
        path: { userId: "{{userId}}" },
        test: [
          ...status(200, "OK"),
          "const page = pm.response.json();",
          'pm.test("balance 800,00, the order, the admin\'s top-up on top", () => {',
          "  pm.expect(page.account.balance).to.eql(80000);",
          '  pm.expect(page.orders[0].id).to.eql(pm.collectionVariables.get("orderId"));',
          '  pm.expect(page.ledger[0]).to.include({ kind: "TOP_UP", amount: 5000, balanceAfter: 80000 });',
          "});",
        ],
      },
      {
        operation: "GET /admin/orders",
        name: "Admin: the shopper's orders",
        description: "Every user's orders, newest first; here filtered by the shopper's email.",
        auth: "admin",
        query: { email: "{{email}}", limit: "20" },
        test: [
          ...status(200, "OK"),
          "const [order] = pm.response.json().orders;",
          'pm.test("the order, FINISHED, with the email", () => {',
          '  pm.expect(order.id).to.eql(pm.collectionVariables.get("orderId"));',
          '  pm.expect(order.status).to.eql("FINISHED");',
          '  pm.expect(order.email).to.eql(pm.collectionVariables.get("email"));',
          "});",
        ],
      },
      {
        operation: "GET /admin/payments",
        name: "Admin: the shopper's payments",
        description: "Payment decisions, newest first; here the shopper's.",
        auth: "admin",
        query: { userId: "{{userId}}" },
        test: [
          ...status(200, "OK"),
          "const [payment] = pm.response.json().payments;",
          'pm.test("the order was paid: 250,00 SUCCEEDED", () => {',
          '  pm.expect(payment.orderId).to.eql(pm.collectionVariables.get("orderId"));',
          '  pm.expect(payment).to.include({ amount: 25000, outcome: "SUCCEEDED" });',
          "});",
        ],
      },
      {
        operation: "POST /admin/admins",
        name: "Admin: create another admin",
        description: "Only an admin creates admins.",
        auth: "admin",
        prerequest: [
          "const runId = Date.now().toString(36) + Math.random().toString(36).slice(2, 8);",
          'pm.collectionVariables.set("newAdminEmail", "admin-" + runId + "@example.com");',
        ],
        body: { email: "{{newAdminEmail}}", password: "{{password}}" },
        test: [
          ...status(201, "Created"),
          'pm.test("an admin", () => pm.expect(pm.response.json().user.role).to.eql("ADMIN"));',
        ],
      },
    ],
  },
];

const variables: Record<string, string> = {
  baseUrl: DEFAULT_BASE_URL,
  password: "password-123",
  newPassword: "password-456",
  adminEmail: DEV_ADMIN.email,
  adminPassword: DEV_ADMIN.password,
  pollIntervalMs: "500",
  pollMaxAttempts: "120",
  email: "",
  userId: "",
  accessToken: "",
  refreshToken: "",
  orderId: "",
  pollAttempt: "0",
  adminToken: "",
  newAdminEmail: "",
};

/** A UUID-shaped id derived from `seed`: the same on every generation. */
function stableId(seed: string) {
  const hex = createHash("sha256").update(`gozon-postman:${seed}`).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

// The converter fakes example values with json-schema-faker, which keeps its own reference to
// Math.random: seed both for the conversion, so every generation gives the same file.
const require = createRequire(import.meta.url);
const schemaFaker = createRequire(require.resolve("openapi-to-postmanv2"))(
  "../assets/json-schema-faker.js",
) as { option(options: { random: () => number }): void };

function seededRandom(seed: number) {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function withSeededRandom<T>(seed: number, fn: () => Promise<T>): Promise<T> {
  const original = Math.random;
  const random = seededRandom(seed);
  Math.random = random;
  schemaFaker.option({ random });
  try {
    return await fn();
  } finally {
    Math.random = original;
    schemaFaker.option({ random: original });
  }
}

function convert(document: unknown): Promise<Collection> {
  return withSeededRandom(20260101, async () => {
    const result = await new Promise<{ result: boolean; reason?: string; output?: { data: unknown }[] }>(
      (resolve, reject) =>
        convertV2(
          { type: "string", data: JSON.stringify(document) },
          { folderStrategy: "Tags", parametersResolution: "Schema", requestNameSource: "Fallback" },
          (error, value) => (error ? reject(error) : resolve(value as never)),
        ),
    );
    const data = result.output?.[0]?.data;
    if (!result.result || !data) throw new Error(`openapi-to-postmanv2 failed: ${result.reason}`);
    return data as Collection;
  });
}

const script = (listen: PostmanEvent["listen"], exec: string[]): PostmanEvent => ({
  listen,
  script: { type: "text/javascript", exec },
});

function bearer(token: string) {
  return { type: "bearer", bearer: [{ key: "token", value: token, type: "string" }] };
}

function buildItem(template: PostmanItem, step: Step, folder: string): PostmanItem {
  const source = structuredClone(template.request);
  const id = stableId(`${folder}/${step.name}`);
  const request: PostmanRequest = {
    ...source,
    name: step.name,
    description: step.description,
    url: {
      ...source.url,
      query: source.url.query.map((param) => {
        const value = step.query?.[param.key];
        return value === undefined
          ? { ...param, value: param.value, disabled: true }
          : { ...param, value, disabled: false };
      }),
      variable: source.url.variable.map((param) => {
        const value = step.path?.[param.key];
        if (value === undefined) throw new Error(`${step.name}: give the path parameter ${param.key}`);
        return { ...param, value };
      }),
    },
    header: source.header
      .filter((header) => header.key !== "Idempotency-Key" || step.idempotencyKey)
      .map((header) =>
        header.key === "Idempotency-Key" ? { ...header, value: "{{$guid}}", disabled: false } : header,
      ),
  };
  for (const key of Object.keys(step.query ?? {})) {
    if (!request.url.query.some((param) => param.key === key)) {
      throw new Error(`${step.name}: ${step.operation} has no query parameter ${key}`);
    }
  }
  if (step.idempotencyKey && !request.header.some((header) => header.key === "Idempotency-Key")) {
    throw new Error(`${step.name}: ${step.operation} takes no Idempotency-Key`);
  }
  if (step.body) {
    request.body = { ...source.body, mode: "raw", raw: JSON.stringify(step.body, null, 2) };
  } else {
    delete request.body;
  }
  if (step.auth === "none") request.auth = { type: "noauth" };
  else if (step.auth === "admin") request.auth = bearer("{{adminToken}}");
  else delete request.auth; // inherits the collection's bearer {{accessToken}}

  const events = [
    ...(step.prerequest ? [script("prerequest", step.prerequest)] : []),
    script("test", step.test),
  ];
  // Response examples as documented; their faked requests would only add noise.
  const response = (template.response ?? []).map((example, index) => {
    const { originalRequest: _request, ...rest } = example;
    return { ...rest, id: stableId(`${folder}/${step.name}/response/${index}`) };
  });
  return { id, name: step.name, request, response, event: events };
}

/** The collection for `document` (an OpenAPI 3 document), ready to write. */
export async function buildCollection(document: unknown = openApiDocument()): Promise<Collection> {
  const generated = await convert(document);
  const templates = new Map<Operation, PostmanItem>();
  for (const folder of generated.item) {
    for (const item of folder.item) {
      const route = item.request.url.path.map((part) => part.replace(/^:(.+)$/, "{$1}")).join("/");
      templates.set(`${item.request.method as "GET"} /${route}`, item);
    }
  }

  const used = new Set<Operation>();
  const folders: PostmanFolder[] = scenario.map((folder) => ({
    name: folder.name,
    description: folder.description,
    item: folder.steps.map((step) => {
      const template = templates.get(step.operation);
      if (!template) throw new Error(`The OpenAPI document has no ${step.operation} (step ${step.name})`);
      used.add(step.operation);
      return buildItem(template, step, folder.name);
    }),
    ...(folder.prerequest ? { event: [script("prerequest", folder.prerequest)] } : {}),
  }));

  // An operation the scenario does not use yet still belongs in the collection, but is not run.
  const unused = [...templates].filter(([operation]) => !used.has(operation));
  if (unused.length > 0) {
    folders.push({
      name: "Not in the scenario",
      description: "Operations the scenario does not cover yet; skipped when the collection runs.",
      event: [script("prerequest", ["pm.execution.skipRequest();"])],
      item: unused.map(([operation, template]) =>
        buildItem(
          template,
          {
            operation,
            name: template.name,
            description: operation,
            path: Object.fromEntries(template.request.url.variable.map((v) => [v.key, v.value ?? ""])),
            test: [],
          },
          "unused",
        ),
      ),
    });
  }

  const info = generated.info;
  return {
    info: {
      _postman_id: stableId("collection"),
      name: info.name,
      description:
        `${(info.description as { content?: string } | undefined)?.content ?? ""}\n\n` +
        "Generated from /api/openapi.json by `npm run postman`; do not edit by hand. Run it with " +
        "`npx newman run docs/postman/gozon.postman_collection.json --env-var baseUrl=http://localhost:3000/api/v1`. " +
        "The admin folder uses `adminEmail` / `adminPassword` (the development admin by default).",
      schema: info.schema,
    },
    auth: bearer("{{accessToken}}"),
    variable: Object.entries(variables).map(([key, value]) => ({ key, value, type: "string" })),
    item: folders,
  };
}

export function openApiDocument() {
  return generateOpenApiDocument({ baseUrl: DEFAULT_BASE_URL });
}

/** The collection as the committed file holds it (formatted as Prettier formats the repository). */
export async function renderCollection(collection: Collection): Promise<string> {
  const options = (await prettier.resolveConfig(COLLECTION_FILE)) ?? {};
  return prettier.format(JSON.stringify(collection), { ...options, filepath: COLLECTION_FILE });
}

async function main(args: string[]) {
  const text = await renderCollection(await buildCollection());
  const relative = path.relative(repoRoot, COLLECTION_FILE);
  if (args.includes("--check")) {
    const committed = await readFile(COLLECTION_FILE, "utf8").catch(() => "");
    if (committed !== text) {
      console.error(`${relative} is stale: run \`npm run postman\` and commit the result.`);
      process.exit(1);
    }
    console.log(`${relative} is up to date.`);
    return;
  }
  await mkdir(path.dirname(COLLECTION_FILE), { recursive: true });
  await writeFile(COLLECTION_FILE, text);
  console.log(`wrote ${relative}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main(process.argv.slice(2));
}
