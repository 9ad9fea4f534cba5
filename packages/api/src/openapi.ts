import { generateOpenApiDocument as generate, type OpenAPIObject } from "trpc-to-openapi";
import { ACCESS_COOKIE } from "./cookies.ts";
import { appRouter } from "./root.ts";
import type { ApiMeta } from "./trpc.ts";

/** Where the REST form of the procedures is served. */
export const REST_PREFIX = "/api/v1";

/** The error body every REST endpoint answers with (see `http.ts`). */
function restErrorSchema(code: string, title: unknown) {
  return {
    type: "object",
    title,
    required: ["error"],
    properties: {
      error: {
        type: "object",
        required: ["code", "message"],
        properties: {
          code: { type: "string", example: code, description: "Machine-readable error code" },
          message: { type: "string", description: "What went wrong, for a person" },
          fields: {
            type: "object",
            additionalProperties: { type: "string" },
            description: "Invalid input: each field at fault and what is wrong with it",
            example: { email: "must be a valid email address" },
          },
          retryAfterSeconds: { type: "integer", description: "Rate limited: also the Retry-After header" },
          requestId: { type: "string", description: "Quote it when reporting a problem" },
        },
      },
    },
  };
}

/** The OpenAPI 3 document of every procedure that has an `openapi` route. */
export function generateOpenApiDocument(opts: { baseUrl?: string } = {}): OpenAPIObject {
  const doc = generate(appRouter, {
    title: "Gozon API",
    description:
      "Orders and payments of the Gozon shop. Every operation is also a tRPC procedure at /api/trpc. " +
      "Errors are `{ error: { code, message, fields? } }`.",
    version: "1.0.0",
    baseUrl: opts.baseUrl ?? REST_PREFIX,
    securitySchemes: {
      bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
      cookie: { type: "apiKey", in: "cookie", name: ACCESS_COOKIE },
    },
  });

  // trpc-to-openapi documents every success as 200 and its own error shape; state ours.
  const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { meta?: ApiMeta } }>;
  for (const procedure of Object.values(procedures)) {
    const meta = procedure._def.meta;
    if (!meta?.openapi) continue;
    const operation = doc.paths?.[meta.openapi.path]?.[meta.openapi.method.toLowerCase() as "post"];
    const responses = operation?.responses as Record<string, { description?: string }> | undefined;
    if (!responses) continue;
    if (meta.successStatus && responses["200"]) {
      responses[String(meta.successStatus)] = responses["200"];
      delete responses["200"];
    }
    // trpc-to-openapi caches one error response per code, so the first procedure's text would show on
    // every route: put each route's own text back.
    const errors = meta.openapi.errorResponses;
    if (errors && !Array.isArray(errors)) {
      for (const [status, description] of Object.entries(errors)) {
        const response = responses[status];
        if (response) responses[status] = { ...response, description };
      }
    }
  }
  const schemas = (doc.components?.schemas ?? {}) as Record<string, { title?: unknown }>;
  for (const [name, schema] of Object.entries(schemas)) {
    if (name.startsWith("error.")) schemas[name] = restErrorSchema(name.slice("error.".length), schema.title);
  }
  return doc;
}
