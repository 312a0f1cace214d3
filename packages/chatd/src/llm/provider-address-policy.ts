/**
 * Where a provider may be reached: the one rule for provider base URLs, applied when an admin sets a
 * base URL (to the URL's host) and again whenever a provider connection is opened (to every address its
 * name resolves to; see `provider-fetch.ts`).
 *
 * Refused: link-local addresses (IPv4 169.254.0.0/16, IPv6 fe80::/10) and the cloud metadata services
 * (169.254.169.254 and 169.254.170.2 of AWS, GCP, Azure and others, Alibaba's 100.100.100.200, AWS's
 * fd00:ec2::254, and the names metadata, metadata.google.internal, instance-data and
 * instance-data.ec2.internal), in every IPv6 form that carries one of those IPv4 addresses (IPv4-mapped
 * `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, IPv4-translated `::ffff:0:a.b.c.d`, NAT64
 * `64:ff9b::a.b.c.d`). A metadata service hands out the host's cloud credentials to whoever asks, and a
 * provider request carries the provider's API key: neither may go there.
 *
 * Allowed: everything else, loopback (127.0.0.0/8, ::1, localhost) and private networks (10/8, 172.16/12,
 * 192.168/16, fc00::/7) included: local model servers are a main use of chatd.
 *
 * IPv4 spellings such as `2852039166`, `0xa9fea9fe` or `0251.0376.0251.0376` need no handling here:
 * WHATWG URL parsing (`new URL`) normalises them to dotted quads before the host is checked, and the
 * resolver only ever returns canonical addresses.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { ChatdError } from '../errors.js';

/** Host names of metadata services, lower case, without a trailing dot. */
const METADATA_NAMES: ReadonlySet<string> = new Set([
  'metadata',
  'metadata.google.internal',
  'instance-data',
  'instance-data.ec2.internal',
]);

/** IPv4 metadata addresses (each is also refused in the IPv6 forms that embed it). */
const METADATA_IPV4 = ['169.254.169.254', '169.254.170.2', '100.100.100.200'] as const;
const LINK_LOCAL_IPV4 = { network: '169.254.0.0', prefix: 16 } as const;

/**
 * IPv6 prefixes (each a /96) whose last 32 bits are an IPv4 address. `BlockList` already matches the
 * IPv4-mapped form against IPv4 rules; it is listed anyway so that the rule does not rest on that.
 */
const IPV4_CARRYING_PREFIXES = ['::', '::ffff:', '::ffff:0:', '64:ff9b::'] as const;

const metadataAddresses = new BlockList();
const linkLocalAddresses = new BlockList();
for (const address of METADATA_IPV4) {
  metadataAddresses.addAddress(address, 'ipv4');
  for (const prefix of IPV4_CARRYING_PREFIXES) metadataAddresses.addAddress(`${prefix}${address}`, 'ipv6');
}
metadataAddresses.addAddress('fd00:ec2::254', 'ipv6');
linkLocalAddresses.addSubnet(LINK_LOCAL_IPV4.network, LINK_LOCAL_IPV4.prefix, 'ipv4');
for (const prefix of IPV4_CARRYING_PREFIXES) {
  linkLocalAddresses.addSubnet(`${prefix}${LINK_LOCAL_IPV4.network}`, 96 + LINK_LOCAL_IPV4.prefix, 'ipv6');
}
linkLocalAddresses.addSubnet('fe80::', 10, 'ipv6');

/**
 * Why chatd will not connect a provider to this IP address (such as "169.254.169.254 is a cloud
 * metadata address"), or undefined when it may. Anything that is not an IP address is undefined.
 */
export function refusedAddressReason(address: string): string | undefined {
  // A zone (fe80::1%eth0) says which interface, not which address.
  const bare = address.replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 0) return undefined;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (metadataAddresses.check(bare, type)) return `${address} is a cloud metadata address`;
  if (linkLocalAddresses.check(bare, type)) return `${address} is a link-local address`;
  return undefined;
}

/**
 * {@link refusedAddressReason} for the host of a URL as `new URL(...).hostname` gives it (lower case,
 * IPv4 normalised, IPv6 in brackets), which may also be a metadata service's name. Other names are not
 * resolved here: what they resolve to is checked when a connection is opened, every time (a name may
 * change its answer, or be made to: DNS rebinding).
 */
export function refusedHostReason(hostname: string): string | undefined {
  const host = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (METADATA_NAMES.has(host.replace(/\.$/, ''))) return `${hostname} is a cloud metadata address`;
  return refusedAddressReason(host);
}

/** A provider connection was refused because of where it would go (see this module). */
export class ProviderAddressRefusedError extends ChatdError {
  constructor(reason: string) {
    super(
      'E_PROVIDER_ADDRESS_REFUSED',
      `chatd does not connect providers to link-local or cloud metadata addresses: ${reason}`,
    );
  }
}

/**
 * A `lookup` for `net.connect` (and so for an undici connector) that resolves like `dns.lookup` but fails
 * with {@link ProviderAddressRefusedError} when any address of the answer is refused, so a name that
 * resolves, or is rebound, to a metadata address is refused at connect time. Every address is checked,
 * not only the first: the connection may try any of them (happy eyeballs). `resolve` is `dns.lookup`
 * unless a test stands in for DNS.
 */
export function createGuardedLookup(resolve: typeof dnsLookup = dnsLookup): LookupFunction {
  return (hostname, options, callback) => {
    const all: LookupAllOptions = { ...options, all: true };
    resolve(hostname, all, (error, addresses: LookupAddress[]) => {
      if (error) {
        callback(error, '');
        return;
      }
      for (const { address } of addresses) {
        const reason = refusedAddressReason(address);
        if (reason !== undefined) {
          callback(new ProviderAddressRefusedError(`${hostname} resolves to ${reason}`), '');
          return;
        }
      }
      const first = addresses[0];
      if (first === undefined) {
        callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '');
      } else if (options.all === true) {
        // `net` asks for every address when it may try several (autoSelectFamily).
        callback(null, addresses);
      } else {
        callback(null, first.address, first.family);
      }
    });
  };
}
