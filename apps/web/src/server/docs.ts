// The API's documentation: the OpenAPI 3 document at /api/openapi.json and Swagger UI at /api/docs.
// Swagger UI's assets come from the `swagger-ui-dist` package and are served from this process: no CDN.
import { createReadStream } from "node:fs";
import type http from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { generateOpenApiDocument, REST_PREFIX } from "@gozon/api/openapi";

export const OPENAPI_PATH = "/api/openapi.json";
export const DOCS_PATH = "/api/docs";

/** The only files of swagger-ui-dist that the page loads, and their content types. */
const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "favicon-16x16.png": "image/png",
  "favicon-32x32.png": "image/png",
};

const INITIALIZER = "swagger-initializer.js";

// An external script rather than an inline one, so the page works under a CSP without 'unsafe-inline'.
const initializerScript = `window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: ${JSON.stringify(OPENAPI_PATH)},
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
    displayRequestDuration: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
`;

const page = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Gozon API</title>
    <link rel="stylesheet" href="${DOCS_PATH}/swagger-ui.css" />
    <link rel="icon" type="image/png" href="${DOCS_PATH}/favicon-32x32.png" sizes="32x32" />
    <link rel="icon" type="image/png" href="${DOCS_PATH}/favicon-16x16.png" sizes="16x16" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="${DOCS_PATH}/swagger-ui-bundle.js"></script>
    <script src="${DOCS_PATH}/${INITIALIZER}"></script>
  </body>
</html>
`;

const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "img-src 'self' data:",
  "style-src 'self' 'unsafe-inline'",
  "script-src 'self'",
  "connect-src 'self'",
  "frame-ancestors 'none'",
].join("; ");

const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

function firstValue(value: string | string[] | undefined) {
  return (Array.isArray(value) ? value[0] : value)?.split(",")[0]?.trim().toLowerCase();
}

/**
 * The REST base URL as the caller reached it (`http://localhost:3000/api/v1`), so Swagger UI's "Try it
 * out" and generated clients talk to this server. Behind a trusted proxy the scheme is X-Forwarded-Proto's.
 */
export function restBaseUrl(req: http.IncomingMessage, trustProxy: boolean): string {
  const host = req.headers.host;
  if (!host || !HOST.test(host)) return REST_PREFIX;
  const forwarded = trustProxy ? firstValue(req.headers["x-forwarded-proto"]) : undefined;
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
  const proto = forwarded === "http" || forwarded === "https" ? forwarded : encrypted ? "https" : "http";
  return `${proto}://${host}${REST_PREFIX}`;
}

export function createDocs({ trustProxy }: { trustProxy: boolean }) {
  const assetDir = path.dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  let document: ReturnType<typeof generateOpenApiDocument> | undefined;

  function send(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    status: number,
    headers: Record<string, string>,
    body: string,
  ) {
    res.writeHead(status, { ...headers, "content-length": String(Buffer.byteLength(body)) });
    res.end(req.method === "HEAD" ? undefined : body);
  }

  function notFound(req: http.IncomingMessage, res: http.ServerResponse, pathname: string) {
    const body = JSON.stringify({ error: { code: "NOT_FOUND", message: `No such page: ${pathname}` } });
    send(req, res, 404, { "content-type": "application/json; charset=utf-8" }, body);
  }

  return {
    matches: (pathname: string) =>
      pathname === OPENAPI_PATH || pathname === DOCS_PATH || pathname.startsWith(`${DOCS_PATH}/`),

    handle(req: http.IncomingMessage, res: http.ServerResponse, pathname: string) {
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.setHeader("allow", "GET, HEAD");
        const body = JSON.stringify({ error: { code: "METHOD_NOT_SUPPORTED", message: "Use GET" } });
        return send(req, res, 405, { "content-type": "application/json; charset=utf-8" }, body);
      }
      if (pathname === OPENAPI_PATH) {
        document ??= generateOpenApiDocument();
        const body = JSON.stringify({
          ...document,
          servers: [{ url: restBaseUrl(req, trustProxy), description: "This server" }],
        });
        return send(
          req,
          res,
          200,
          {
            "content-type": "application/json; charset=utf-8",
            "cache-control": "no-cache",
            "access-control-allow-origin": "*",
          },
          body,
        );
      }
      const html = {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-cache",
        "content-security-policy": CONTENT_SECURITY_POLICY,
        "x-content-type-options": "nosniff",
      };
      if (pathname === DOCS_PATH || pathname === `${DOCS_PATH}/`) return send(req, res, 200, html, page);

      const name = pathname.slice(DOCS_PATH.length + 1);
      if (name === INITIALIZER) {
        return send(
          req,
          res,
          200,
          { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache" },
          initializerScript,
        );
      }
      const type = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
      if (!type) return notFound(req, res, pathname);
      res.writeHead(200, {
        "content-type": type,
        "cache-control": "public, max-age=86400",
        "x-content-type-options": "nosniff",
      });
      if (req.method === "HEAD") return void res.end();
      createReadStream(path.join(assetDir, name))
        .on("error", () => res.destroy())
        .pipe(res);
    },
  };
}
