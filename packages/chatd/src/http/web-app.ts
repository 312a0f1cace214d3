import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import fastifyStatic, { type SetHeadersResponse } from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { handleUnknownRoute } from './error-handler.js';
import { HTML_HEADERS, IMMUTABLE_CACHE_CONTROL, isNavigation, isServerPath } from './web-app-policy.js';

/** Options of {@link registerWebApp}. */
export interface WebAppOptions {
  /** The built app (Vite's `dist`: `index.html` and `assets/`); default {@link resolveWebAppRoot}. */
  readonly root?: string | undefined;
  readonly logger: Logger;
}

/** What `/` answers when the app was not built. */
export const WEB_APP_MISSING_MESSAGE =
  "chatd's web app is not built: run `npm run build` in the chatd source tree (it builds packages/web), then restart chatd. The API is served all the same.\n";

/**
 * The `dist` directory of the `@chatd/web` package, found the way Node finds the package; undefined when
 * the package is not installed.
 */
export function resolveWebAppRoot(): string | undefined {
  try {
    const manifest = createRequire(import.meta.url).resolve('@chatd/web/package.json');
    return path.join(path.dirname(manifest), 'dist');
  } catch {
    return undefined;
  }
}

/**
 * Serves the web app at `/` on an app made by `createHttpServer`, on every replica alike:
 *
 * - `/assets/*`: the fingerprinted files, `Cache-Control: public, max-age=31536000, immutable`, the
 *   build's `.br` / `.gz` by `Accept-Encoding` (`Vary: Accept-Encoding`), ETags.
 * - the other files at the top of the build (`favicon.ico`…): revalidated (`no-cache`).
 * - any other GET or HEAD that is a page load (accepts HTML; `Sec-Fetch-Dest: document` from a browser)
 *   and not a server path (`/api`, `/healthz`, `/readyz`,
 *   `/metrics`): `index.html` (the app routes in the browser), with the CSP and `no-cache`.
 * - anything else, unknown API paths included: the API's JSON 404.
 *
 * Without a build (`index.html` missing) chatd still serves the API: it logs a warning and page loads
 * answer 503 with {@link WEB_APP_MISSING_MESSAGE}.
 */
export function registerWebApp(app: FastifyInstance, options: WebAppOptions): void {
  const root = options.root ?? resolveWebAppRoot();
  if (root === undefined || !existsSync(path.join(root, 'index.html'))) {
    options.logger.warn(
      { root },
      'the web app is not built (no index.html): serving the API only; run `npm run build` to build it',
    );
    app.get('/*', (request, reply) => {
      if (!isAppRequest(request)) return handleUnknownRoute(request, reply);
      return reply
        .code(503)
        .header('x-content-type-options', 'nosniff')
        .header('cache-control', 'no-store')
        .type('text/plain; charset=utf-8')
        .send(WEB_APP_MISSING_MESSAGE);
    });
    return;
  }
  const assets = path.join(root, 'assets');
  const topFiles = topLevelFiles(root);
  app.register(async (web) => {
    await web.register(fastifyStatic, {
      root: assets,
      prefix: '/assets/',
      preCompressed: true,
      // Headers are set in setHeaders, by kind of file; send's own Cache-Control is off.
      cacheControl: false,
      etag: true,
      lastModified: false,
      index: false,
      dotfiles: 'deny',
      setHeaders: (response, file) => setFileHeaders(response, file, assets),
    });
    web.get('/*', (request, reply) => serveAppPath(request, reply, root, topFiles));
  });
}

/** A GET or HEAD the app answers: a page load (see `isNavigation`) of a path that is not the server's. */
function isAppRequest(request: FastifyRequest): boolean {
  return !isServerPath(pathOf(request)) && isNavigation(request.headers);
}

function serveAppPath(
  request: FastifyRequest,
  reply: FastifyReply,
  root: string,
  topFiles: ReadonlySet<string>,
): FastifyReply {
  const pathname = pathOf(request);
  const topFile = pathname.slice(1);
  if (topFiles.has(topFile)) return reply.sendFile(topFile, root);
  if (!isAppRequest(request)) return handleUnknownRoute(request, reply);
  return reply.sendFile('index.html', root);
}

/** Caching and security headers of a file served from the build (`file` may be its `.br` / `.gz`). */
function setFileHeaders(response: SetHeadersResponse, file: string, assets: string): void {
  response.setHeader('vary', 'Accept-Encoding');
  response.setHeader('x-content-type-options', 'nosniff');
  if (file.startsWith(assets + path.sep)) {
    response.setHeader('cache-control', IMMUTABLE_CACHE_CONTROL);
    return;
  }
  if (/\.html(?:\.br|\.gz)?$/.test(file)) {
    for (const [name, value] of Object.entries(HTML_HEADERS)) response.setHeader(name, value);
    return;
  }
  response.setHeader('cache-control', 'no-cache');
}

/** The files (not directories, not dotfiles, not `.br` / `.gz` variants) at the top of the build. */
function topLevelFiles(root: string): ReadonlySet<string> {
  return new Set(
    readdirSync(root, { withFileTypes: true })
      .filter((entry) => entry.isFile() && !entry.name.startsWith('.') && !/\.(?:br|gz)$/.test(entry.name))
      .map((entry) => entry.name),
  );
}

function pathOf(request: FastifyRequest): string {
  return request.url.split('?', 1)[0] ?? '/';
}
