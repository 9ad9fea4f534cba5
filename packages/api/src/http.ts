import type { IncomingMessage, ServerResponse } from "node:http";
import { nodeHTTPRequestHandler } from "@trpc/server/adapters/node-http";
import type { TRPCError } from "@trpc/server";
import { TRPC_ERROR_CODES_BY_KEY } from "@trpc/server/rpc";
import { createOpenApiNodeHttpHandler } from "trpc-to-openapi";
import { createContextFromNodeRequest, requestIdOf } from "./context.ts";
import type { ApiDeps } from "./deps.ts";
import { describeFields, retryAfterSecondsOf, type FieldErrors } from "./errors.ts";
import { hiddenJsonProblems } from "./json-body.ts";
import { REST_PREFIX } from "./openapi.ts";
import { appRouter } from "./root.ts";
import { checkCrossSite, drainRequest } from "./request-guards.ts";
import {
  INTERNAL_MESSAGE,
  JSON_ONLY_MESSAGE,
  SUBSCRIPTION_OVER_HTTP_MESSAGE,
  reportError,
  type ApiErrorData,
  type ApiMeta,
} from "./trpc.ts";

export { REST_PREFIX };
/** Where tRPC's HTTP transport is served (`/api/trpc/auth.login`). */
export const TRPC_PREFIX = "/api/trpc";
/** Request bodies larger than this are refused with 413. */
export const MAX_BODY_BYTES = 64 * 1024;

/** The REST error body. */
export type RestError = {
  error: {
    code: string;
    message: string;
    fields?: Record<string, string>;
    retryAfterSeconds?: number;
    requestId?: string;
  };
};

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

const underPrefix = (pathname: string, prefix: string) =>
  pathname === prefix || pathname.startsWith(`${prefix}/`);

type ProcedureDef = { _def: { type: "query" | "mutation" | "subscription"; meta?: ApiMeta } };
const procedureAt = (path: string) =>
  (appRouter._def.procedures as unknown as Record<string, ProcedureDef | undefined>)[path];
const decodedPath = (path: string) => {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
};

/**
 * The REST routes with parameters in their path, and those parameters' names. trpc-to-openapi merges the
 * path's values over the body's or the query's, so `POST /admin/users/A/top-up` with `{"userId":"B"}`
 * would top up A and drop B without a word; such a key is refused instead (see serveRest).
 */
const routesWithPathParameters = Object.values(
  appRouter._def.procedures as unknown as Record<string, ProcedureDef>,
).flatMap(({ _def: { meta } }) => {
  const route = meta?.openapi;
  const names = [...(route?.path.matchAll(/\{(\w+)\}/g) ?? [])].map((match) => match[1]!);
  if (!route || names.length === 0) return [];
  const pattern = new RegExp(`^${route.path.replace(/\{\w+\}/g, "[^/]+")}/?$`, "i");
  return [{ method: route.method as string, pattern, names }];
});

/** The names of the path parameters of the REST route `method path` (without the prefix), if any. */
function pathParametersOf(method: string, path: string): string[] {
  // Matched as trpc-to-openapi matches its routes: in any case, on the path with `.` and `..` resolved.
  const resolved = new URL(path, "http://gozon.invalid").pathname;
  return routesWithPathParameters.find((r) => r.method === method && r.pattern.test(resolved))?.names ?? [];
}

function successStatusOf(path: string | undefined): number | undefined {
  return path ? procedureAt(path)?._def.meta?.successStatus : undefined;
}

function retryAfterHeader(errors: readonly TRPCError[]): Record<string, string> {
  const seconds = errors.map(retryAfterSecondsOf).find((value) => value !== undefined);
  return seconds === undefined ? {} : { "Retry-After": String(seconds) };
}

/**
 * Serves the API: tRPC over HTTP at `/api/trpc/*` and the REST form at `/api/v1/*`. Resolves to false,
 * without touching the response, for any other path (the caller hands those to Next).
 */
export function createApiRequestHandler(deps: ApiDeps): Handler {
  // The OpenAPI handler writes to a stand-in response; cookies go straight onto the real one.
  const inFlight = new WeakMap<IncomingMessage, { res: ServerResponse; requestId: string }>();
  const restHandler = createOpenApiNodeHttpHandler({
    router: appRouter,
    maxBodySize: MAX_BODY_BYTES,
    createContext: ({ req }) => {
      const request = inFlight.get(req);
      return createContextFromNodeRequest(deps, req, request?.res, request?.requestId);
    },
    onError: ({ error, path, ctx }) => reportError(ctx?.log ?? deps.log, { error, path }),
    responseMeta: ({ paths, errors }) => {
      if (errors.length > 0) return { headers: retryAfterHeader(errors) };
      const status = successStatusOf(paths?.[0]);
      return status ? { status } : {};
    },
  });

  async function serveTrpc(req: IncomingMessage, res: ServerResponse, pathname: string, requestId: string) {
    const path = pathname.slice(TRPC_PREFIX.length + 1);
    /** An error in tRPC's own shape, for what is refused before tRPC sees the request. */
    const refuse = (
      code: "PAYLOAD_TOO_LARGE" | "METHOD_NOT_SUPPORTED" | "BAD_REQUEST",
      httpStatus: number,
      message: string,
      fields?: FieldErrors,
    ) => {
      res.statusCode = httpStatus;
      res.setHeader("Content-Type", "application/json");
      res.end(
        JSON.stringify({
          error: {
            message,
            code: TRPC_ERROR_CODES_BY_KEY[code],
            data: { code, httpStatus, path, requestId, ...(fields ? { fields } : {}) },
          },
        }),
      );
    };
    // Live feeds are served over the WebSocket only (publicProcedure says why and holds it too): refused
    // here before the body is read or a context made. By the path as tRPC reads it, percent-decoded:
    // `orders%2EonStatusChange` names the feed as well. One that does not decode is tRPC's 400.
    if (procedureAt(decodedPath(path))?._def.type === "subscription") {
      return refuse("METHOD_NOT_SUPPORTED", 405, SUBSCRIPTION_OVER_HTTP_MESSAGE);
    }
    if (req.method === "GET" || req.method === "HEAD") {
      // A query's input is JSON too, in `?input=`: the same scan as a body's, so a key given twice or a
      // rounded number is a 400 on every transport that takes JSON from a client.
      const input = new URL(req.url ?? "/", "http://localhost").searchParams.get("input");
      const hidden = input === null ? undefined : hiddenJsonProblems(input);
      if (hidden) return refuse("BAD_REQUEST", 400, `Invalid input: ${describeFields(hidden)}`, hidden);
    } else {
      // Read here rather than by tRPC: its reader destroys the socket when the limit is passed, so the
      // client could see a reset instead of the 413.
      const raw = await readBody(req);
      if (raw === "too large") return refuse("PAYLOAD_TOO_LARGE", 413, TOO_LARGE_MESSAGE);
      const text = raw.toString("utf8");
      const hidden = hiddenJsonProblems(text);
      if (hidden) return refuse("BAD_REQUEST", 400, `Invalid input: ${describeFields(hidden)}`, hidden);
      (req as IncomingMessage & { body?: unknown }).body = text;
    }
    await nodeHTTPRequestHandler({
      router: appRouter,
      req,
      res,
      path,
      maxBodySize: MAX_BODY_BYTES,
      // One call per request: a batch would multiply the work one request can queue (e.g. N argon2
      // checks), and the app's client never batches (httpLink). A batch is a 400.
      allowBatching: false,
      createContext: ({ req: request, res: response }) =>
        createContextFromNodeRequest(deps, request, response, requestId),
      onError: ({ error, path, ctx }) => reportError(ctx?.log ?? deps.log, { error, path }),
      // Error bodies are JSON, but those tRPC raises before a procedure runs (an unsupported content
      // type) would otherwise go out as text/plain.
      responseMeta: ({ errors }) =>
        errors.length === 0
          ? {}
          : { headers: { "Content-Type": "application/json", ...retryAfterHeader(errors) } },
    });
  }

  async function serveRest(req: IncomingMessage, res: ServerResponse, pathname: string, requestId: string) {
    const method = req.method ?? "GET";
    // The OpenAPI routes are declared without the prefix ("/auth/login").
    const route = pathname.slice(REST_PREFIX.length);
    const url = req.url ?? "/";
    const queryStart = url.indexOf("?");
    const query = queryStart >= 0 ? url.slice(queryStart) : "";
    let given = [...new URLSearchParams(query).keys()];
    let where = "query";
    if (method !== "GET" && method !== "HEAD" && method !== "DELETE") {
      const body = await readJsonBody(req);
      if (!body.ok) {
        return sendRestError(res, body.status, {
          code: body.code,
          message: body.message,
          fields: body.fields,
          requestId,
        });
      }
      (req as IncomingMessage & { body?: unknown }).body = body.value;
      req.headers["content-type"] = "application/json";
      given = Object.keys(body.value as object);
      where = "body";
    }
    const clashes = pathParametersOf(method, route).filter((name) => given.includes(name));
    if (clashes.length > 0) {
      return sendRestError(res, 400, {
        code: "BAD_REQUEST",
        message: `Invalid input: ${clashes.join(", ")} is given by the path, not the ${where}`,
        fields: Object.fromEntries(
          clashes.map((name) => [name, `is given by the path; leave it out of the ${where}`]),
        ),
        requestId,
      });
    }
    req.url = route + query;

    const captured = captureResponse(res);
    let unmatched = false;
    inFlight.set(req, { res, requestId });
    await restHandler(req, captured.sink, () => {
      unmatched = true;
    });
    if (unmatched) {
      return sendRestError(res, 404, {
        code: "NOT_FOUND",
        message: `No such endpoint: ${method} ${pathname}`,
        requestId,
      });
    }
    for (const [name, value] of Object.entries(captured.headers)) res.setHeader(name, value);
    if (captured.status < 400) {
      res.statusCode = captured.status;
      res.end(captured.body);
      return;
    }
    sendRestError(res, captured.status, restErrorOf(captured.body, captured.status, requestId));
  }

  return async (req, res) => {
    const pathname = (req.url ?? "/").split("?")[0] ?? "/";
    const trpc = underPrefix(pathname, TRPC_PREFIX);
    if (!trpc && !underPrefix(pathname, REST_PREFIX)) return false;
    const requestId = requestIdOf(req.headers["x-request-id"]);
    res.setHeader("X-Request-Id", requestId);
    res.setHeader("Cache-Control", "no-store");
    // Whatever the answer, a body nobody read is drained (bounded) so the client receives the answer.
    res.once("finish", () => drainRequest(req));
    try {
      const crossSite = checkCrossSite(req, {
        allowedOrigins: deps.config.ALLOWED_ORIGINS,
        trustProxy: deps.trustProxy,
      });
      if (!crossSite.ok) {
        const { status, code, message } = crossSite;
        return (sendRestError(res, status, { code, message, requestId }), true);
      }
      if (trpc) await serveTrpc(req, res, pathname, requestId);
      else await serveRest(req, res, pathname, requestId);
    } catch (error) {
      deps.log.error({ reqId: requestId, err: error }, "api request failed");
      if (!res.headersSent)
        sendRestError(res, 500, { code: "INTERNAL_SERVER_ERROR", message: INTERNAL_MESSAGE, requestId });
      else res.end();
    }
    return true;
  };
}

type BodyResult =
  | { ok: true; value: unknown }
  | { ok: false; status: number; code: string; message: string; fields?: Record<string, string> };

const TOO_LARGE_MESSAGE = `The request body is larger than ${MAX_BODY_BYTES} bytes`;

/**
 * The body, up to MAX_BODY_BYTES. Past it, reading stops and the rest is drained after the answer
 * (drainRequest). Not `for await`: leaving that loop early destroys the request, and with it the
 * socket, before the 413 can reach the client.
 */
function readBody(req: IncomingMessage): Promise<Buffer | "too large"> {
  if (Number(req.headers["content-length"] ?? 0) > MAX_BODY_BYTES) return Promise.resolve("too large");
  return new Promise<Buffer | "too large">((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) return void chunks.push(chunk);
      req.off("data", onData).off("end", onEnd).off("error", reject);
      req.pause();
      resolve("too large");
    };
    const onEnd = () => resolve(Buffer.concat(chunks));
    req.on("data", onData).once("end", onEnd).once("error", reject);
  });
}

/** Reads a JSON body up to MAX_BODY_BYTES; an empty body is `{}` (e.g. `POST /auth/logout`). */
async function readJsonBody(req: IncomingMessage): Promise<BodyResult> {
  const raw = await readBody(req);
  if (raw === "too large") {
    return { ok: false, status: 413, code: "PAYLOAD_TOO_LARGE", message: TOO_LARGE_MESSAGE };
  }
  const text = raw.toString("utf8");
  if (text.trim() === "") return { ok: true, value: {} };
  const contentType = req.headers["content-type"]?.split(";")[0]?.trim().toLowerCase();
  if (contentType !== "application/json" && !contentType?.endsWith("+json")) {
    return {
      ok: false,
      status: 415,
      code: "UNSUPPORTED_MEDIA_TYPE",
      message: JSON_ONLY_MESSAGE,
    };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return {
      ok: false,
      status: 400,
      code: "PARSE_ERROR",
      message: "The request body is not valid JSON",
      fields: { body: "is not valid JSON" },
    };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return {
      ok: false,
      status: 400,
      code: "BAD_REQUEST",
      message: "Invalid input: body must be a JSON object",
      fields: { body: "must be a JSON object" },
    };
  }
  const hidden = hiddenJsonProblems(text);
  if (hidden) {
    const message = `Invalid input: ${describeFields(hidden)}`;
    return { ok: false, status: 400, code: "BAD_REQUEST", message, fields: hidden };
  }
  return { ok: true, value };
}

/** A stand-in response that keeps what the OpenAPI handler writes, so errors can be reshaped. */
function captureResponse(res: ServerResponse) {
  const captured = { status: 200, headers: {} as Record<string, string | string[]>, body: "" };
  const sink = {
    get statusCode() {
      return captured.status;
    },
    set statusCode(status: number) {
      captured.status = status;
    },
    setHeader(name: string, value: string | string[] | number) {
      captured.headers[name] = typeof value === "number" ? String(value) : value;
      return sink;
    },
    end(body?: string) {
      captured.body = body ?? "";
      return sink;
    },
    // The handler watches the real connection to abort on disconnect.
    once: (event: string, listener: () => void) => (res.once(event, listener), sink),
    off: (event: string, listener: () => void) => (res.off(event, listener), sink),
    get writableEnded() {
      return res.writableEnded;
    },
    headersSent: false,
  };
  return Object.assign(captured, { sink: sink as unknown as ServerResponse });
}

/** `{ error: { code, message, fields? } }` from the tRPC error shape the OpenAPI handler produced. */
function restErrorOf(body: string, status: number, requestId: string): RestError["error"] {
  try {
    const shape = JSON.parse(body) as { message?: string; code?: string; data?: Partial<ApiErrorData> };
    const data = shape.data ?? {};
    const code = data.code ?? shape.code ?? "INTERNAL_SERVER_ERROR";
    const fields = data.fields;
    const message =
      code === "INTERNAL_SERVER_ERROR"
        ? INTERNAL_MESSAGE
        : fields && code === "BAD_REQUEST"
          ? `Invalid input: ${describeFields(fields)}`
          : (shape.message ?? "Request failed");
    return {
      code,
      message,
      ...(fields ? { fields } : {}),
      ...(data.retryAfterSeconds !== undefined ? { retryAfterSeconds: data.retryAfterSeconds } : {}),
      requestId,
    };
  } catch {
    return {
      code: status >= 500 ? "INTERNAL_SERVER_ERROR" : "BAD_REQUEST",
      message: "Request failed",
      requestId,
    };
  }
}

function sendRestError(res: ServerResponse, status: number, error: RestError["error"]) {
  const body: RestError = {
    error: Object.fromEntries(
      Object.entries(error).filter(([, value]) => value !== undefined),
    ) as RestError["error"],
  };
  res.statusCode = status;
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  res.end(JSON.stringify(body));
}
