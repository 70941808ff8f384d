// NO_PROXY: which hosts tagpin reaches directly although a proxy is configured.
import ipaddr from 'ipaddr.js';
import { BlockList, isIP } from 'node:net';
import { ConfigError } from '../errors/index.ts';
import { stripBrackets } from '../reference/index.ts';

/** True when a request to `url` bypasses the proxy. */
export type NoProxyMatcher = (url: URL) => boolean;

interface NameEntry {
  /** Lower case, without a leading `.` or `*.`. */
  readonly name: string;
  readonly port: string | undefined;
}

interface AddressEntry {
  /** Normalized address text (`::1`, `10.0.0.1`). */
  readonly address: string;
  readonly port: string | undefined;
}

/**
 * Compiles a NO_PROXY value: entries separated by commas (or white space), compared case-insensitively.
 * - `*` alone: no request uses the proxy.
 * - a name (`registry.corp`, `.corp`, `*.corp`): that name and every name under it; a leading `.` or
 *   `*.` changes nothing (as curl reads it, so `.corp` also covers `corp`).
 * - an IP address (`10.1.2.3`, `::1`, `[::1]`) or a CIDR range (`10.0.0.0/8`, `fd00::/8`): hosts written
 *   as that address; names are not resolved to be compared.
 * - any of them but a range with `:PORT` (`registry.corp:5000`, `[::1]:5000`): that port only; a URL
 *   without a port has its scheme's (443, 80).
 * @throws ConfigError naming `variable` for a CIDR range that does not parse
 */
export function compileNoProxy(value: string, variable: string): NoProxyMatcher {
  const names: NameEntry[] = [];
  const addresses: AddressEntry[] = [];
  const ranges = new BlockList();
  let everything = false;
  for (const raw of value.split(/[\s,]+/)) {
    const entry = raw.toLowerCase();
    if (entry === '') continue;
    if (entry === '*') {
      everything = true;
    } else if (entry.includes('/')) {
      addRange(ranges, entry, variable);
    } else {
      const { host, port } = splitEntry(entry);
      const bare = stripBrackets(host);
      if (isIP(bare) !== 0) addresses.push({ address: normalizeAddress(bare), port });
      else names.push({ name: host.replace(/^\*?\./, '').replace(/\.$/, ''), port });
    }
  }
  return (url) => {
    if (everything) return true;
    const host = stripBrackets(url.hostname).toLowerCase().replace(/\.$/, '');
    const port = url.port === '' ? (url.protocol === 'http:' ? '80' : '443') : url.port;
    const portMatches = (entry: { readonly port: string | undefined }): boolean => entry.port === undefined || entry.port === port;
    const family = isIP(host);
    if (family === 0) {
      return names.some((entry) => portMatches(entry) && (host === entry.name || host.endsWith(`.${entry.name}`)));
    }
    const address = normalizeAddress(host);
    if (addresses.some((entry) => portMatches(entry) && entry.address === address)) return true;
    return ranges.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  };
}

/** `host:port` into its parts; IPv6 only in brackets may carry a port. */
function splitEntry(entry: string): { readonly host: string; readonly port: string | undefined } {
  const bracketed = /^(\[[^\]]+\])(?::(\d+))?$/.exec(entry);
  if (bracketed !== null) return { host: bracketed[1] ?? entry, port: bracketed[2] };
  if (isIP(entry) === 6) return { host: entry, port: undefined };
  const ported = /^(.+):(\d+)$/.exec(entry);
  return ported === null ? { host: entry, port: undefined } : { host: ported[1] ?? entry, port: ported[2] };
}

/** One spelling per address: IPv4-mapped IPv6 as IPv4, IPv6 in its normalized long form. */
function normalizeAddress(address: string): string {
  const parsed = ipaddr.process(address);
  return parsed.kind() === 'ipv6' ? (parsed as ipaddr.IPv6).toNormalizedString() : parsed.toString();
}

function addRange(ranges: BlockList, entry: string, variable: string): void {
  let range: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    range = ipaddr.parseCIDR(stripBrackets(entry));
  } catch {
    throw new ConfigError(`${variable} entry "${entry}" is not an address range such as 10.0.0.0/8 or fd00::/8`, { where: variable });
  }
  const [base, prefix] = range;
  if (base.kind() === 'ipv6') ranges.addSubnet((base as ipaddr.IPv6).toNormalizedString(), prefix, 'ipv6');
  else ranges.addSubnet(base.toString(), prefix, 'ipv4');
}
