// The registry part of a reference: `host[:port]`, with IPv6 literals in brackets.

/** A `host[:port]` split: `host` as written (IPv6 in brackets), `port` undefined when there is none. */
export interface HostPort {
  readonly host: string;
  readonly port: string | undefined;
}

/**
 * Splits `host[:port]` (`[::1]:5000`, `registry.example.com`, `127.0.0.1:5000`). A bare IPv6 literal
 * (several colons, no brackets) is all host. Undefined when a bracket is not closed or anything but
 * `:port` follows it.
 */
export function splitHostPort(hostPort: string): HostPort | undefined {
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close === -1) return undefined;
    const after = hostPort.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) return undefined;
    return { host: hostPort.slice(0, close + 1), port: after === '' ? undefined : after.slice(1) };
  }
  const colon = hostPort.indexOf(':');
  if (colon === -1 || colon !== hostPort.lastIndexOf(':')) return { host: hostPort, port: undefined };
  return { host: hostPort.slice(0, colon), port: hostPort.slice(colon + 1) };
}

/** `[::1]` → `::1`; anything else unchanged. */
export function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
