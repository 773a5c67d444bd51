/**
 * The web dashboard (packages/web/dist, built by `npm run build:web`) from the API's own HTTPS
 * listener, so the browser talks to one origin.
 *
 * - `/_app/<file>`: Vite's content-hashed build output (its `build.assetsDir`, named apart from the
 *   dashboard's own /assets/... pages), cached for a year (`immutable`).
 * - Any other GET outside `/api/`: the SPA's index.html (`no-cache`), so client-side routes such
 *   as /alarms or /assets/site-1/AHU-01 load the app. A top-level file of dist (e.g. a favicon
 *   from public/) is served as itself. A missing /_app file with a build extension is a 404,
 *   not HTML a browser would try to run as a script.
 * - These are the only routes reachable without authentication (`isPublicWebRequest`): the app
 *   shell holds no data; everything it shows comes from /api with a session or a token.
 *
 * Paths are checked segment by segment against an allow-list before any file is looked up, and
 * @fastify/send checks again that the file lies under the root; `..`, encoded or not, never
 * reaches the file system.
 */
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { errorBody } from './api-error.ts';

export interface WebRoutesOptions {
  /** The built app: index.html and _app/. */
  root: string;
}

/** The dashboard's policy: its own scripts only, API calls to its own origin, never framed. */
export const WEB_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    + "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** Where Vite puts the content-hashed build files (packages/web/vite.config.ts build.assetsDir). */
export const BUILD_DIR = '_app';
const ASSET_CACHE = 'public, max-age=31536000, immutable';
/** Extensions Vite emits under _app/: a missing one is a 404, anything else is a client route. */
const BUILD_EXTENSIONS = /\.(?:js|mjs|css|map|json|wasm|svg|png|jpe?g|gif|webp|avif|ico|woff2?|ttf|otf|txt)$/i;
/** One path segment: what Vite names files and what site, asset and point ids may be (no leading dot). */
const SEGMENT = /^[A-Za-z0-9_~:-][A-Za-z0-9._~:-]{0,199}$/;

/**
 * Whether a request may skip authentication: GET or HEAD of the app shell, never anything the
 * router could take for an /api route. The router decodes percent-escapes before matching
 * (`/%61pi/v1/health` reaches /api/v1/health), so the check decodes too and errs towards "not public".
 */
export function isPublicWebRequest(method: string, urlPath: string): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return false;
  }
  return !/^[/\\]*api(?:[^a-z0-9]|$)/i.test(decoded);
}

/** packages/web/dist, found through the @shellguard/web package (else beside this package in the tree). */
export function defaultWebRoot(): string {
  try {
    const pkg = createRequire(import.meta.url).resolve('@shellguard/web/package.json');
    return path.join(path.dirname(pkg), 'dist');
  } catch {
    return fileURLToPath(new URL('../../../web/dist/', import.meta.url));
  }
}

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shellguard</title></head>
<body><h1>Shellguard</h1><p>The web dashboard is not built: run <code>npm run build:web</code>, then reload this page.</p>
<p>The API is served under <code>/api/v1</code>.</p></body></html>
`;

/** The request path's segments, decoded; undefined if any is not a plain name (`..`, `.x`, `%2f`, `\\`...). */
function segmentsOf(url: string): string[] | undefined {
  const q = url.indexOf('?');
  const raw = q === -1 ? url : url.slice(0, q);
  const parts = raw.split('/').slice(1);
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  const out: string[] = [];
  for (const part of parts) {
    let s: string;
    try {
      s = decodeURIComponent(part);
    } catch {
      return undefined;
    }
    if (!SEGMENT.test(s)) return undefined;
    out.push(s);
  }
  return out;
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

export const webRoutes: FastifyPluginAsync<WebRoutesOptions> = async (app, { root }) => {
  const webRoot = path.resolve(root);
  const indexFile = path.join(webRoot, 'index.html');
  if (!existsSync(indexFile)) {
    app.log.warn({ webRoot }, 'the web dashboard is not built: run `npm run build:web` (the API works without it)');
  }
  // Only the reply.sendFile decorator: the routes below decide what is served.
  await app.register(fastifyStatic, { serve: false, dotfiles: 'deny', index: false });

  const withHeaders = (reply: FastifyReply): FastifyReply => reply.headers(WEB_SECURITY_HEADERS);

  const sendIndex = (reply: FastifyReply) => {
    // Checked per request: building the app while the server runs needs no restart.
    if (!isFile(indexFile)) {
      return withHeaders(reply).code(503).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(NOT_BUILT_PAGE);
    }
    return withHeaders(reply).header('cache-control', 'no-cache').sendFile('index.html', webRoot, { cacheControl: false });
  };

  app.get('/', { schema: { hide: true } }, async (_request, reply) => sendIndex(reply));

  app.get('/*', { schema: { hide: true } }, async (request, reply) => {
    const segments = segmentsOf(request.url);
    if (segments !== undefined && segments[0]?.toLowerCase() === 'api') return reply.callNotFound();
    if (segments === undefined) {
      return withHeaders(reply).code(404).send(errorBody('not_found', 'no such page'));
    }
    const rel = segments.join('/');
    if (segments[0] === BUILD_DIR && segments.length > 1) {
      if (isFile(path.join(webRoot, rel))) {
        return withHeaders(reply).header('cache-control', ASSET_CACHE).sendFile(rel, webRoot, { cacheControl: false });
      }
      if (BUILD_EXTENSIONS.test(rel)) return withHeaders(reply).code(404).send(errorBody('not_found', `no file ${rel} in this build`));
    } else if (segments.length === 1 && segments[0] !== 'index.html' && isFile(path.join(webRoot, rel))) {
      // public/ files (favicon, robots.txt): not content-hashed, so revalidated.
      return withHeaders(reply).header('cache-control', 'no-cache').sendFile(rel, webRoot, { cacheControl: false });
    }
    return sendIndex(reply);
  });
};
