// Which hosts tagpin may contact, how (HTTP or HTTPS), and the address guard run inside DNS lookup.
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import type { LookupFunction } from 'node:net';

/**
 * Link-local ranges and the cloud metadata endpoints (AWS, GCP, Azure use 169.254.169.254, AWS IPv6
 * fd00:ec2::254, Alibaba 100.100.100.200): a registry or token realm that resolves there is almost
 * certainly trying to reach instance credentials.
 */
const FORBIDDEN = new BlockList();
FORBIDDEN.addSubnet('169.254.0.0', 16, 'ipv4');
FORBIDDEN.addSubnet('fe80::', 10, 'ipv6');
FORBIDDEN.addAddress('fd00:ec2::254', 'ipv6');
FORBIDDEN.addAddress('100.100.100.200', 'ipv4');

/** True when `address` (an IP literal, brackets allowed) is link-local or a cloud metadata address. */
export function isForbiddenAddress(address: string): boolean {
  const bare = stripBrackets(address);
  const family = isIP(bare);
  if (family === 0) return false;
  return FORBIDDEN.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

/** Splits `host[:port]` (`[::1]:5000`, `registry.example.com`) into a lower-cased host and the port text. */
export function splitHostPort(hostPort: string): { readonly host: string; readonly port: string | undefined } {
  const lower = hostPort.toLowerCase();
  if (lower.startsWith('[')) {
    const end = lower.indexOf(']');
    const rest = lower.slice(end + 1);
    return { host: lower.slice(0, end + 1), port: rest.startsWith(':') ? rest.slice(1) : undefined };
  }
  const colon = lower.lastIndexOf(':');
  // A bare IPv6 literal has several colons and no port.
  if (colon === -1 || lower.indexOf(':') !== colon) return { host: lower, port: undefined };
  return { host: lower.slice(0, colon), port: lower.slice(colon + 1) };
}

/** `[::1]` → `::1`; anything else unchanged. */
export function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** Tests a `host[:port]` against a list of host globs. */
export type HostMatcher = (hostPort: string) => boolean;

/**
 * Compiles host globs (`*.example.com`, `127.0.0.1:5000`, `registry-[ab].corp`): `*` matches within
 * one DNS label, `?` one character, `[...]` a class. A glob without a port matches the host on any
 * port; a glob with one matches that port only. Comparison ignores case.
 */
export function compileHostGlobs(globs: readonly string[]): HostMatcher {
  const patterns = globs.map((glob) => {
    const { host, port } = splitHostPort(glob);
    return { host: globToRegExp(host), port: port === undefined ? undefined : globToRegExp(port) };
  });
  return (hostPort) => {
    const { host, port } = splitHostPort(hostPort);
    return patterns.some(
      (pattern) => pattern.host.test(host) && (pattern.port === undefined || (port !== undefined && pattern.port.test(port))),
    );
  };
}

function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i += 1) {
    const char = glob.charAt(i);
    if (char === '*') source += '[^.]*';
    else if (char === '?') source += '[^.]';
    else if (char === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end === -1) {
        source += '\\[';
      } else {
        const body = glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
        source += `[${body}]`;
        i = end;
      }
    } else source += char.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'i');
}

/** Resolves a host name to addresses (tests inject one that maps names to loopback). */
export type Resolve = (hostname: string) => Promise<readonly LookupAddress[]>;

/** Raised inside DNS lookup when a name resolves to a forbidden address; carries what it resolved to. */
export class ForbiddenAddressError extends Error {
  readonly hostname: string;
  readonly address: string;

  constructor(hostname: string, address: string) {
    super(`${hostname} resolves to ${address}, a link-local or cloud metadata address`);
    this.name = 'ForbiddenAddressError';
    this.hostname = hostname;
    this.address = address;
  }
}

/**
 * A `net.connect` lookup that refuses names resolving to forbidden addresses unless `isTrusted(hostname)`.
 * The check runs on the very addresses the socket connects to, so a name that answers differently on
 * a second query (DNS rebinding) cannot slip past it.
 */
export function createGuardedLookup(resolve: Resolve | undefined, isTrusted: (hostname: string) => boolean): LookupFunction {
  const resolveAll: Resolve = resolve ?? ((hostname) => dnsLookup(hostname, { all: true, verbatim: true }));
  return (hostname, options, callback) => {
    resolveAll(hostname).then(
      (found) => {
        const wanted = options.family === 4 || options.family === 6 ? found.filter((a) => a.family === options.family) : found;
        const first = wanted[0];
        if (first === undefined) {
          callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname }), '', 0);
          return;
        }
        if (!isTrusted(hostname)) {
          const forbidden = wanted.find((a) => isForbiddenAddress(a.address));
          if (forbidden !== undefined) {
            callback(new ForbiddenAddressError(hostname, forbidden.address), '', 0);
            return;
          }
        }
        if (options.all === true) {
          callback(null, [...wanted]);
        } else {
          callback(null, first.address, first.family);
        }
      },
      (error: unknown) => {
        callback(error instanceof Error ? error : new Error(String(error)), '', 0);
      },
    );
  };
}
