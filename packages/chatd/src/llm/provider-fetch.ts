import type { lookup as dnsLookup } from 'node:dns';
import { Agent, buildConnector } from 'undici';
import {
  createGuardedLookup,
  ProviderAddressRefusedError,
  refusedHostReason,
} from './provider-address-policy.js';
import { createRequestFetch, type FetchFunction } from './request-fetch.js';

/** The `fetch` the AI SDK providers take (`createOpenAI({ fetch })` and the others). */
export type ProviderFetch = FetchFunction;

/** Options of {@link createProviderFetch}. */
export interface ProviderFetchOptions {
  /** Stands in for `dns.lookup` (tests); the address rule applies to its answers all the same. */
  readonly lookup?: typeof dnsLookup;
}

/**
 * A `fetch` for provider calls that applies the address rule of `provider-address-policy.ts` to every
 * connection it opens, not only to the base URL as configured:
 * - a host name is resolved by a guarded `lookup`: if any address it resolves to is link-local or a
 *   metadata service, the connection fails (so a name that resolves, or is rebound, to 169.254.169.254
 *   is refused at connect time, whatever it resolved to when the base URL was set);
 * - an IP literal or a metadata name is checked before connecting (`net.connect` never calls `lookup`
 *   for an IP), which covers a redirect to one too: every connection, redirects included, goes through
 *   the one connector.
 * A refused connection rejects the call with a TypeError ("fetch failed") whose `cause` is a
 * {@link ProviderAddressRefusedError}.
 *
 * Built on the `undici` package (already a dependency of the AI SDK's provider-utils, which guards its
 * own downloads the same way): an `Agent` with the guarded connector, called through
 * {@link createRequestFetch} (undici's `request` API behind a fetch signature, which costs a streamed
 * call less CPU than undici's WHATWG `fetch`; it says what it keeps of fetch).
 */
export function createProviderFetch(options: ProviderFetchOptions = {}): ProviderFetch {
  const connect = buildConnector({ lookup: createGuardedLookup(options.lookup) });
  const dispatcher = new Agent({
    connect(connectOptions, callback) {
      const reason = refusedHostReason(connectOptions.hostname);
      if (reason !== undefined) {
        callback(new ProviderAddressRefusedError(reason), null);
        return;
      }
      connect(connectOptions, callback);
    },
  });
  return createRequestFetch(dispatcher);
}

let shared: ProviderFetch | undefined;

/**
 * The process's provider fetch: one connection pool for every provider, made on first use. Idle
 * connections do not keep the process alive (undici unrefs them).
 */
export function providerFetch(): ProviderFetch {
  shared ??= createProviderFetch();
  return shared;
}
