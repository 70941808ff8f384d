// What an address is to the guard (public, private, forbidden) and what each listing lets a host reach.
import ipaddr from 'ipaddr.js';
import { BlockList, isIP } from 'node:net';
import { stripBrackets } from '../reference/index.ts';

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
  // ipaddr.js reads a dotted IPv4 tail only after ::ffff:, so give it the tail as two hex words.
  const hex = address.replace(/:(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/, (tail, a: string, b: string, c: string, d: string) => {
    const octets = [a, b, c, d].map(Number);
    if (octets.some((o) => o > 255)) return tail;
    const [w, x, y, z] = octets as [number, number, number, number];
    return `:${((w << 8) | x).toString(16)}:${((y << 8) | z).toString(16)}`;
  });
  return ipaddr.IPv6.isValid(hex) ? ipaddr.IPv6.parse(hex).parts : undefined;
}

/** `a link-local or cloud metadata address`, `a loopback or private address`. */
export function describeAddressClass(addressClass: Exclude<AddressClass, 'public'>): string {
  return addressClass === 'forbidden' ? 'a link-local or cloud metadata address' : 'a loopback or private address';
}

/** What a refusal or a TLS failure tells the user to do, in the words of the caller (a flag, a config key). */
export interface TrustHints {
  readonly private: string;
  readonly forbidden: string;
  /** The allow list, named for a registry it leaves out. */
  readonly allowList: string;
  /** How to reach `registry` (as the image names it) over plain HTTP; follows "HOST speaks plain HTTP; ". */
  readonly plainHttp: (registry: string) => string;
  /** How to stop reaching `registry` over plain HTTP; follows "HOST speaks HTTPS; ". */
  readonly noPlainHttp: (registry: string) => string;
  /** How to trust the CA of a registry whose certificate is not trusted. */
  readonly trustCa: string;
}

/** The server's words: config keys and the chart values that set them. */
export const SERVER_TRUST_HINTS: TrustHints = {
  private: 'list it in registries.privateHosts (chart value config.registries.privateHosts) to trust it',
  forbidden:
    'list it in registries.allow (chart value config.registries.allow; tagpin then contacts only the listed registries) to trust it',
  allowList: 'registries.allow (chart value config.registries.allow)',
  plainHttp: () => 'list it in registries.insecure (chart value config.registries.insecure)',
  noPlainHttp: () => 'remove it from registries.insecure (chart value config.registries.insecure)',
  trustCa: 'trust its CA with registries.caFile (chart value config.registries.caFile)',
};

/** The CLI's words: its user names the registries, so private addresses are open and flags are named. */
export const CLI_TRUST_HINTS: TrustHints = {
  private: 'pass --insecure-registry HOST or list it in registries.privateHosts to trust it',
  forbidden: 'pass --allow-registry HOST (this run then contacts only the listed registries) to trust it',
  allowList: 'registries.allow or --allow-registry',
  plainHttp: (registry) => `add --insecure-registry ${registry}`,
  noPlainHttp: () => 'remove it from --insecure-registry and registries.insecure',
  trustCa: 'trust its CA with --ca-file FILE or registries.caFile',
};

/** The hint for `addressClass`. */
export function howToTrust(hints: TrustHints, addressClass: Exclude<AddressClass, 'public'>): string {
  return addressClass === 'forbidden' ? hints.forbidden : hints.private;
}
