// Host globs of registries.allow and registries.insecure, matched against `host[:port]`.
import { compileGlob, globMatches } from '../glob/index.ts';
import { splitHostPort } from '../reference/index.ts';

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
