// The shapes of hosts in registry settings: `host[:port]` and host globs.

/** Why `value` is not `host[:port]`, or undefined when it is. */
export function validateHostPort(value: string): string | undefined {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)(?::(\d{1,5}))?$/.exec(
    value,
  );
  if (match === null) return 'must be host[:port], without scheme or path';
  const port = match[2];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65_535)) return 'port must be 1-65535';
  return undefined;
}

/** Why `value` is not a host glob, or undefined when it is. */
export function validateHostGlob(value: string): string | undefined {
  return /^[A-Za-z0-9.*?\-[\]:]+$/.test(value) ? undefined : 'must be a host glob like *.example.com or 127.0.0.1:5000';
}
