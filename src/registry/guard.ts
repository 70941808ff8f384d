// The address guard: a DNS lookup for sockets that refuses names resolving where their listing does not reach.
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { RegistryErrorCode, TagpinError } from '../errors/index.ts';
import { classifyAddress, describeAddressClass, isLocalhostName, permits } from './address.ts';
import type { AddressClass, Reach } from './address.ts';

/** Resolves a host name to addresses (tests inject one that maps names to loopback). */
export type Resolve = (hostname: string) => Promise<readonly LookupAddress[]>;

/** Raised inside DNS lookup when a name resolves where its listing does not let it go. */
export class ForbiddenAddressError extends TagpinError {
  readonly hostname: string;
  readonly address: string;
  /** `forbidden` (link-local, metadata) or `private` (loopback, private ranges). */
  readonly addressClass: Exclude<AddressClass, 'public'>;

  constructor(hostname: string, address: string, addressClass: Exclude<AddressClass, 'public'>) {
    super(RegistryErrorCode.forbiddenAddress, `${hostname} resolves to ${address}, ${describeAddressClass(addressClass)}`);
    this.hostname = hostname;
    this.address = address;
    this.addressClass = addressClass;
  }
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
