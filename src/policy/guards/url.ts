// The `url` guard: a URL argument must parse (WHATWG, so decimal, hex and IPv6-mapped spellings normalise), use
// an allowed scheme and host, and its host must resolve only to public addresses (unless a range is allowed):
// judged on the resolved addresses, never on the text, so a name pointing at 169.254.169.254 is caught too.
import { promises as dns } from 'node:dns';
import ipaddr from 'ipaddr.js';
import { globList } from '../glob.js';

/** Resolves a host name to its addresses (dns.promises.lookup with `all`; injectable for tests). */
export type Lookup = (host: string) => Promise<readonly { address: string }[]>;

export const systemLookup: Lookup = (host) => dns.lookup(host, { all: true, verbatim: true });

/** A lookup slower than this is refused: a guard must not hold a call for as long as a resolver may hang. */
export const LOOKUP_TIMEOUT_MS = 3000;

export interface UrlGuardOptions {
  readonly schemes: readonly string[];
  readonly hosts?: readonly string[];
  readonly allowAddresses?: readonly string[];
}

/** Checks one value; resolves undefined when it passes, else why not (never quoting the value). */
export type UrlCheck = (value: string) => Promise<string | undefined>;

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** Text no URL parser should have to interpret: whitespace, controls and backslashes read differently by some. */
// eslint-disable-next-line no-control-regex
const AMBIGUOUS = /[\s\x00-\x1f\x7f\\]/;

export function compileUrlGuard(
  options: UrlGuardOptions,
  lookup: Lookup = systemLookup,
  timeoutMs = LOOKUP_TIMEOUT_MS,
): UrlCheck {
  const schemes = new Set(options.schemes.map((scheme) => `${scheme}:`));
  const hosts = globList(options.hosts);
  const allowed = (options.allowAddresses ?? []).map((cidr) => ipaddr.parseCIDR(cidr));
  const permitted = (address: Address): string | undefined => {
    if (allowed.some(([range, bits]) => range.kind() === address.kind() && address.match(range, bits)))
      return undefined;
    return nonPublic(address);
  };
  return async (value) => {
    if (AMBIGUOUS.test(value)) return 'is not a plain URL (it has whitespace, control characters or "\\")';
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return 'is not a valid absolute URL';
    }
    if (!schemes.has(url.protocol))
      return `uses a scheme that is not allowed (allowed: ${[...schemes].map((s) => s.slice(0, -1)).join(', ')})`;
    if (url.username || url.password) return 'carries a user name or password';
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
    if (!host) return 'has no host';
    if (hosts && !hosts.test(host)) return 'names a host that is not allowed';
    if (ipaddr.isValid(host)) {
      const why = permitted(ipaddr.parse(host));
      return why && `points at ${why}`;
    }
    let addresses: readonly { address: string }[];
    try {
      addresses = await withTimeout(lookup(host), timeoutMs);
    } catch (error) {
      return error === TIMED_OUT
        ? 'names a host that did not resolve in time'
        : 'names a host that does not resolve';
    }
    if (addresses.length === 0) return 'names a host that does not resolve';
    for (const { address } of addresses) {
      if (!ipaddr.isValid(address)) return 'names a host that does not resolve';
      const why = permitted(ipaddr.parse(address));
      if (why) return `names a host that resolves to ${why}`;
    }
    return undefined;
  };
}

/**
 * What kind of non-public address this is, or undefined for a public one. IPv6 forms that carry an IPv4
 * address (mapped, translated, NAT64, 6to4, the old compatible form) are judged by the address they carry.
 */
export function nonPublic(address: Address): string | undefined {
  if (address.kind() === 'ipv4') {
    const range = address.range();
    return range === 'unicast' ? undefined : describe(range);
  }
  const v6 = address as ipaddr.IPv6;
  const range = v6.range();
  const parts = v6.parts;
  const embedded = (high: number, low: number) =>
    new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]) as Address;
  switch (range) {
    case 'ipv4Mapped':
    case 'rfc6145':
      return nonPublic(embedded(parts[6], parts[7]));
    case 'rfc6052':
      // 64:ff9b::/96 embeds an address; the local-use 64:ff9b:1::/48 is a private network of its own.
      return parts[2] === 0 ? nonPublic(embedded(parts[6], parts[7])) : 'a private (NAT64 local-use) address';
    case '6to4':
      return nonPublic(embedded(parts[1], parts[2]));
    case 'unicast':
      // ::a.b.c.d (IPv4-compatible, deprecated) would reach the IPv4 address on some systems.
      return parts.slice(0, 6).every((part) => part === 0) ? 'a reserved address' : undefined;
    default:
      return describe(range);
  }
}

const DESCRIPTIONS: Record<string, string> = {
  unspecified: 'an unspecified address',
  broadcast: 'a broadcast address',
  multicast: 'a multicast address',
  linkLocal: 'a link-local address (cloud metadata lives there)',
  loopback: 'a loopback address',
  carrierGradeNat: 'a carrier-grade NAT address',
  private: 'a private address',
  uniqueLocal: 'a private (unique-local) address',
};

function describe(range: string): string {
  return DESCRIPTIONS[range] ?? `a reserved address (${range})`;
}

const TIMED_OUT = new Error('lookup timed out');

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(TIMED_OUT), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
