// Registry-client tests in process: clients and servers closed after the suite, deadlines, and the error a lookup fails with.
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RegistryError } from '../../src/errors/index.ts';
import { createRegistryClient } from '../../src/registry/index.ts';
import type { RegistryClientOptions, Resolver } from '../../src/registry/index.ts';
import { startServer } from './servers.ts';
import type { LocalServer, ServerOptions } from './servers.ts';

/** A lookup deadline `ms` from now. */
export function soon(ms = 8000): number {
  return Date.now() + ms;
}

/** The RegistryError `promise` rejects with; fails the test if it resolves or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<RegistryError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof RegistryError, `expected a RegistryError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the lookup to fail');
}

/** Clients and servers a suite opens, and the one call that closes them all, last opened first. */
export interface LookupKit {
  /** A registry client with the suite's defaults, then `options`. */
  client(options?: RegistryClientOptions): Resolver;
  /** A node:http (or, given `options.tls`, node:https) server on 127.0.0.1 (see `startServer`). */
  server(handle: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>, options?: ServerOptions): Promise<LocalServer>;
  /** Registers anything else to close with the rest. */
  onClose(close: () => Promise<void>): void;
  /** Closes everything opened so far; call it in `after()`. */
  closeAll(): Promise<void>;
}

/** A kit whose clients start from `defaults()` (a function, so it may read what `before()` set up). */
export function lookupKit(defaults: () => RegistryClientOptions = () => ({})): LookupKit {
  const closers: Array<() => Promise<void>> = [];
  return {
    client(options = {}) {
      const made = createRegistryClient({ ...defaults(), ...options });
      closers.push(() => made.close());
      return made;
    },
    async server(handle, options) {
      const started = await startServer(handle, options);
      closers.push(() => started.close());
      return started;
    },
    onClose(close) {
      closers.push(close);
    },
    async closeAll() {
      for (const close of closers.splice(0).reverse()) await close();
    },
  };
}
