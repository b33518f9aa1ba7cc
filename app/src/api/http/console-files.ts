/**
 * The operator console's built files (console/dist) on the API's own origin, for local mode
 * (`npm start`): each file as it is, and index.html for any other page a browser asks for (the
 * console routes in the browser, so /dags/<id> is a page, not a file). API paths keep the API's
 * JSON 404. Every console response carries the headers the apex-dashboard image sends. apex-api
 * never serves these: in the platform the apex-dashboard image does.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { httpPaths } from "../../contract/services";

/**
 * The apex-dashboard image's headers (console/nginx/default.conf.template; a test keeps the two
 * equal): only our own origin, inline styles for React Flow, no framing, no referrer.
 */
export const consoleSecurityHeaders = {
  "content-security-policy":
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
} as const;

const indexFile = "index.html";
/** Vite puts content-hashed files here: a new build has new names, so they may be cached for good. */
const hashedAssetsDir = "assets";

/** Whether `dir` holds a built console (its index.html). */
export function isConsoleBuilt(dir: string): boolean {
  return existsSync(path.join(dir, indexFile));
}

/** Paths of the API (routes and the prefixes they live under): never answered with a console page. */
export function isApiPath(urlPath: string): boolean {
  return urlPath === "/v1" || urlPath.startsWith("/v1/") || urlPath === "/openapi.json" || Object.values<string>(httpPaths).includes(urlPath);
}

export interface ConsoleFiles {
  /** True when the request was a console page the files do not hold: answered with index.html. */
  answerPage(request: FastifyRequest, reply: FastifyReply): boolean;
}

/** Registers the console's files at `/` on `app`; `dir` must hold a build (isConsoleBuilt). */
export function serveConsoleFiles(app: FastifyInstance, dir: string): ConsoleFiles {
  const root = path.resolve(dir);
  void app.register(fastifyStatic, {
    root,
    prefix: "/",
    wildcard: true,
    index: indexFile,
    redirect: false,
    dotfiles: "ignore",
    cacheControl: false,
    // An API path never reaches the disk: it goes straight to the not-found handler (JSON 404).
    allowedPath: (pathName) => !isApiPath(pathName),
    setHeaders: (res, filePath) => {
      for (const [name, value] of Object.entries(consoleSecurityHeaders)) res.setHeader(name, value);
      const hashed = path.relative(root, filePath).split(path.sep)[0] === hashedAssetsDir;
      res.setHeader("cache-control", hashed ? "public, max-age=31536000, immutable" : "no-cache");
    },
  });
  return {
    answerPage(request, reply) {
      const urlPath = request.url.split("?")[0]!;
      const wantsPage = (request.method === "GET" || request.method === "HEAD") && (request.headers.accept ?? "").includes("text/html");
      if (!wantsPage || isApiPath(urlPath)) return false;
      void reply.sendFile(indexFile, root);
      return true;
    },
  };
}
