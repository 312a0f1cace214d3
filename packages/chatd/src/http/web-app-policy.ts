/**
 * What the web app's answers promise, apart from how they are served: which paths belong to the server
 * (never answered with the app), which requests are navigations (answered with `index.html`), and the
 * security and caching headers of each kind of answer.
 */

/** Paths the server owns: the API and the probes. Never answered with the web app, even when unknown. */
export const SERVER_PATH_PREFIXES: readonly string[] = Object.freeze([
  '/api',
  '/healthz',
  '/readyz',
  '/metrics',
]);

/**
 * The Content-Security-Policy of the page: only this origin's scripts, styles, images (and `data:`
 * images) and connections; no inline script or style, no framing, no `<base>`, forms only to this origin.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

/** Headers of every HTML answer (the page and the deep links answered with it). */
export const HTML_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  // Revalidated on every load (cheap with the ETag): a new build is picked up at once.
  'cache-control': 'no-cache',
});

/** `Cache-Control` of the fingerprinted files under `/assets/`: their name changes with their content. */
export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=31536000, immutable';

/** True for a path under one of {@link SERVER_PATH_PREFIXES} (`/api`, `/api/…`; not `/apiary`). */
export function isServerPath(pathname: string): boolean {
  return SERVER_PATH_PREFIXES.some((prefix) => pathname === prefix || pathname.startsWith(`${prefix}/`));
}

/**
 * Whether a request is a page load: a browser says so in `Sec-Fetch-Dest` (`document`; an image or a
 * script that is not there is not answered with the page); other clients by accepting HTML.
 */
export function isNavigation(headers: {
  accept?: string | undefined;
  'sec-fetch-dest'?: string | string[] | undefined;
}): boolean {
  const destination = headers['sec-fetch-dest'];
  if (destination !== undefined && destination !== 'document') return false;
  return acceptsHtml(headers.accept);
}

/**
 * Whether an `Accept` header accepts `text/html` (directly, as `text/*` or as `*\/*`, with a q above 0).
 * No header accepts anything (RFC 9110).
 */
export function acceptsHtml(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  return accept.split(',').some((range) => {
    const [type = '', ...params] = range.split(';').map((part) => part.trim().toLowerCase());
    if (type !== 'text/html' && type !== 'text/*' && type !== '*/*') return false;
    const q = params.find((param) => param.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}
