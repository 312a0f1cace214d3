/**
 * A fetch that keeps cookies the way a browser does for one origin (enough for chatd's one session
 * cookie), so tests in Node can use cookie sessions through the client.
 */
export function cookieJarFetch(): {
  fetch: (request: Request) => Promise<Response>;
  cookies: Map<string, string>;
} {
  const cookies = new Map<string, string>();
  return {
    cookies,
    async fetch(request: Request) {
      if (cookies.size > 0) {
        request.headers.set('cookie', [...cookies].map(([name, value]) => `${name}=${value}`).join('; '));
      }
      const response = await globalThis.fetch(request);
      for (const line of response.headers.getSetCookie()) {
        const [pair = ''] = line.split(';');
        const separator = pair.indexOf('=');
        const name = pair.slice(0, separator).trim();
        const value = pair.slice(separator + 1).trim();
        if (/max-age=0|expires=thu, 01 jan 1970/i.test(line) || value === '') cookies.delete(name);
        else cookies.set(name, value);
      }
      return response;
    },
  };
}
