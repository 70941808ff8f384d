// Which hosts tagpin may contact, how (HTTP or HTTPS), and the address guard run inside DNS lookup.
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import type { LookupFunction } from 'node:net';
import { compileGlob, globMatches } from '../glob/index.ts';
import { splitHostPort, stripBrackets } from '../reference/index.ts';

/**
 * What an address is, for the guard:
 * - `forbidden`: link-local or a cloud metadata endpoint; a registry or realm there is almost certainly
 *   after instance credentials (SSRF), so only `registries.allow` opens it.
 * - `private`: loopback, private, CGNAT, unspecified and other non-internet ranges; opened by
 *   `registries.allow` or `registries.insecure` (an operator who names the host knows where it lives).
 * - `public`: everything else.
 */
export type AddressClass = 'public' | 'private' | 'forbidden';

/**
 * How far a host's connections may reach, decided by how it is listed: `any` (in `registries.allow`),
 * `private` (in `registries.insecure`), `public` (not listed).
 */
export type Reach = 'public' | 'private' | 'any';

/**
 * Link-local ranges and the cloud metadata endpoints: AWS, GCP, Azure and Oracle at 169.254.169.254
 * (inside link-local), AWS IPv6 fd00:ec2::254, Alibaba 100.100.100.200, Azure's WireServer
 * 168.63.129.16 (a public-looking address that serves host-level data). Checked before PRIVATE because
 * some of these sit inside private ranges.
 */
const FORBIDDEN = new BlockList();
FORBIDDEN.addSubnet('169.254.0.0', 16, 'ipv4');
FORBIDDEN.addSubnet('fe80::', 10, 'ipv6');
FORBIDDEN.addAddress('fd00:ec2::254', 'ipv6');
FORBIDDEN.addAddress('100.100.100.200', 'ipv4');
FORBIDDEN.addAddress('168.63.129.16', 'ipv4');

/** Addresses that are not on the public internet: a registry there is inside the operator's network. */
const PRIVATE = new BlockList();
PRIVATE.addSubnet('0.0.0.0', 8, 'ipv4'); // "this network"; 0.0.0.0 reaches the local host on Linux
PRIVATE.addSubnet('10.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('100.64.0.0', 10, 'ipv4'); // CGNAT, also used for cluster networks
PRIVATE.addSubnet('127.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('172.16.0.0', 12, 'ipv4');
PRIVATE.addSubnet('192.0.0.0', 24, 'ipv4'); // IETF protocol assignments
PRIVATE.addSubnet('192.168.0.0', 16, 'ipv4');
PRIVATE.addSubnet('198.18.0.0', 15, 'ipv4'); // benchmarking, used inside some networks
PRIVATE.addSubnet('224.0.0.0', 4, 'ipv4'); // multicast
PRIVATE.addSubnet('240.0.0.0', 4, 'ipv4'); // reserved, and the broadcast address
PRIVATE.addSubnet('fc00::', 7, 'ipv6'); // unique local
PRIVATE.addSubnet('fec0::', 10, 'ipv6'); // deprecated site-local
PRIVATE.addSubnet('ff00::', 8, 'ipv6'); // multicast
PRIVATE.addSubnet('64:ff9b:1::', 48, 'ipv6'); // local-use NAT64: translates to whatever the network says

/**
 * Classifies an IP literal (brackets allowed); undefined when `address` is not one. IPv6 forms that
 * carry an IPv4 address (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d` including `::` and `::1`,
 * NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:AABB:CCDD::`) are judged by that IPv4 address, so no notation
 * reaches loopback or metadata by the back door.
 */
export function classifyAddress(address: string): AddressClass | undefined {
  const bare = stripBrackets(address);
  const family = isIP(bare);
  if (family === 0) return undefined;
  if (family === 6) {
    const embedded = embeddedIpv4(bare);
    if (embedded !== undefined) return classifyIpv4(embedded);
    if (FORBIDDEN.check(bare, 'ipv6')) return 'forbidden';
    return PRIVATE.check(bare, 'ipv6') ? 'private' : 'public';
  }
  return classifyIpv4(bare);
}

function classifyIpv4(address: string): AddressClass {
  if (FORBIDDEN.check(address, 'ipv4')) return 'forbidden';
  return PRIVATE.check(address, 'ipv4') ? 'private' : 'public';
}

/** True when `address` (an IP literal, brackets allowed) is link-local or a cloud metadata address. */
export function isForbiddenAddress(address: string): boolean {
  return classifyAddress(address) === 'forbidden';
}

/** True when `hostname` names the local host by convention (`localhost`, `*.localhost`, RFC 6761). */
export function isLocalhostName(hostname: string): boolean {
  const lower = stripBrackets(hostname).toLowerCase().replace(/\.$/, '');
  return lower === 'localhost' || lower.endsWith('.localhost');
}

/** Whether a host allowed to reach `reach` may connect to an address of class `found`. */
export function permits(reach: Reach, found: AddressClass): boolean {
  if (found === 'public' || reach === 'any') return true;
  return found === 'private' && reach === 'private';
}

/** The IPv4 address an IPv6 address carries in one of the embedding forms, as dotted text. */
function embeddedIpv4(address: string): string | undefined {
  const words = ipv6Words(address);
  if (words === undefined) return undefined;
  const zeros = (from: number, to: number): boolean => words.slice(from, to).every((w) => w === 0);
  const dotted = (high: number, low: number): string => `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  const [w0 = 0, w1 = 0, w2 = 0, , , w5 = 0, w6 = 0, w7 = 0] = words;
  if (zeros(0, 5) && (w5 === 0xffff || w5 === 0)) return dotted(w6, w7); // mapped, compatible, ::, ::1
  if (w0 === 0x64 && w1 === 0xff9b && zeros(2, 6)) return dotted(w6, w7); // NAT64 well-known prefix
  if (w0 === 0x2002) return dotted(w1, w2); // 6to4
  return undefined;
}

/** The eight 16-bit words of a valid IPv6 literal (zone dropped), or undefined. */
function ipv6Words(address: string): readonly number[] | undefined {
  let text = address.split('%', 1)[0] ?? address;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    const octets = last.split('.').map(Number);
    const [a = 0, b = 0, c = 0, d = 0] = octets;
    tail.push((a << 8) | b, (c << 8) | d);
    text = `${text.slice(0, lastColon + 1)}0`; // placeholder word, removed below
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string | undefined): number[] =>
    part === undefined || part === '' ? [] : part.split(':').map((word) => Number.parseInt(word, 16));
  let head = parse(halves[0]);
  let rest = halves.length === 2 ? parse(halves[1]) : [];
  if (tail.length > 0) {
    if (halves.length === 2) rest = rest.slice(0, -1);
    else head = head.slice(0, -1);
  }
  const fill = 8 - head.length - rest.length - tail.length;
  if (halves.length === 1 && fill !== 0) return undefined;
  if (fill < 0) return undefined;
  const words = [...head, ...Array<number>(halves.length === 2 ? fill : 0).fill(0), ...rest, ...tail];
  return words.length === 8 && words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff) ? words : undefined;
}

/** Tests a `host[:port]` against a list of host globs. */
export type HostMatcher = (hostPort: string) => boolean;

/**
 * Compiles host globs (`*.example.com`, `127.0.0.1:5000`, `registry-[ab].corp`): `*` matches within
 * one DNS label, `?` one character, `[...]` a class. A glob without a port matches the host on any
 * port; a glob with one matches that port only. Comparison ignores case.
 */
export function compileHostGlobs(globs: readonly string[]): HostMatcher {
  const patterns = globs.flatMap((text) => {
    const split = splitHostPort(text.toLowerCase());
    const host = split === undefined ? undefined : compileGlob(split.host, HOST_GLOB);
    const port = split?.port === undefined ? undefined : compileGlob(split.port, HOST_GLOB);
    // A malformed glob matches nothing (config validation refuses it before it gets here).
    if (host === undefined || (split?.port !== undefined && port === undefined)) return [];
    return [{ host, port }];
  });
  return (hostPort) => {
    const split = splitHostPort(hostPort.toLowerCase());
    if (split === undefined) return false;
    const { host, port } = split;
    return patterns.some(
      (pattern) => globMatches(pattern.host, host) && (pattern.port === undefined || (port !== undefined && globMatches(pattern.port, port))),
    );
  };
}

/** Host globs: `*` and `?` stay inside one DNS label; `[!x]` negates as in shells. */
const HOST_GLOB = { separator: '.', bangNegates: true } as const;

/** Resolves a host name to addresses (tests inject one that maps names to loopback). */
export type Resolve = (hostname: string) => Promise<readonly LookupAddress[]>;

/** Raised inside DNS lookup when a name resolves where its listing does not let it go. */
export class ForbiddenAddressError extends Error {
  readonly hostname: string;
  readonly address: string;
  /** `forbidden` (link-local, metadata) or `private` (loopback, private ranges). */
  readonly addressClass: Exclude<AddressClass, 'public'>;

  constructor(hostname: string, address: string, addressClass: Exclude<AddressClass, 'public'>) {
    super(`${hostname} resolves to ${address}, ${describeAddressClass(addressClass)}`);
    this.name = 'ForbiddenAddressError';
    this.hostname = hostname;
    this.address = address;
    this.addressClass = addressClass;
  }
}

/** `a link-local or cloud metadata address`, `a loopback or private address`. */
export function describeAddressClass(addressClass: Exclude<AddressClass, 'public'>): string {
  return addressClass === 'forbidden' ? 'a link-local or cloud metadata address' : 'a loopback or private address';
}

/** What to list to open an address class to a host, for messages. */
export function howToTrust(addressClass: Exclude<AddressClass, 'public'>): string {
  return addressClass === 'forbidden' ? 'list it in registries.allow to trust it' : 'list it in registries.allow or registries.insecure to trust it';
}

/**
 * A `net.connect` lookup that refuses names resolving to an address `reach` does not permit; every
 * address of the answer is checked, not only the first. The check runs on the very addresses the
 * socket connects to, so a name that answers differently on a second query (DNS rebinding) cannot
 * slip past it. `localhost` and `*.localhost` count as loopback whatever the resolver says.
 */
export function createGuardedLookup(resolve: Resolve | undefined, reach: Reach): LookupFunction {
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
        const refused = refusal(hostname, wanted, reach);
        if (refused !== undefined) {
          callback(refused, '', 0);
          return;
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

/** The error for the first address `reach` does not permit, forbidden ones reported first. */
function refusal(hostname: string, found: readonly LookupAddress[], reach: Reach): ForbiddenAddressError | undefined {
  const classes = found.map((a) => ({ address: a.address, found: classifyAddress(a.address) ?? 'forbidden' }));
  if (isLocalhostName(hostname)) classes.push({ address: 'loopback', found: 'private' });
  for (const wanted of ['forbidden', 'private'] as const) {
    const hit = classes.find((c) => c.found === wanted && !permits(reach, c.found));
    if (hit !== undefined) return new ForbiddenAddressError(hostname, hit.address, wanted);
  }
  return undefined;
}
