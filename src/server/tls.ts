// The serving certificate: read from files and reloaded when they change, or generated for localhost.
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { readSettingFile } from '../config/index.ts';
import type { ServerConfig } from '../config/index.ts';
import { ConfigError, describeError } from '../errors/index.ts';

/** PEM key and certificate (chain) the HTTPS server presents. */
export interface ServingCertificate {
  readonly key: string;
  readonly cert: string;
}

/** Oldest TLS version served; the API server speaks 1.2 and 1.3. */
export const MIN_TLS_VERSION = 'TLSv1.2';

/** How often the certificate files are checked; a stat per file, so cheap. */
const POLL_INTERVAL_MS = 500;
/** Writers replace the key and the certificate one after the other; wait for both. */
const SETTLE_MS = 150;

/** The certificate files of `server`, or undefined when a self-signed certificate is to be generated. */
export function certificateFiles(server: ServerConfig): { readonly cert: string; readonly key: string } | undefined {
  if (server.tlsCert === null && server.tlsKey === null) return undefined;
  if (server.tlsCert === null || server.tlsKey === null) {
    throw new ConfigError('server.tlsCert and server.tlsKey must be set together (or both left out for a self-signed certificate)', {
      where: server.tlsCert === null ? 'server.tlsCert' : 'server.tlsKey',
    });
  }
  return { cert: server.tlsCert, key: server.tlsKey };
}

/**
 * Reads and checks a key and certificate pair.
 * @throws ConfigError naming the file or the mismatch
 */
export async function readCertificate(files: { readonly cert: string; readonly key: string }): Promise<ServingCertificate> {
  const cert = await readSettingFile('server.tlsCert', files.cert);
  const key = await readSettingFile('server.tlsKey', files.key);
  try {
    // Fails on unparsable PEM and on a key that does not belong to the certificate.
    createSecureContext({ key, cert, minVersion: MIN_TLS_VERSION });
  } catch (error) {
    throw new ConfigError(`server.tlsCert ${files.cert} and server.tlsKey ${files.key} are not a usable pair: ${describeError(error)}`, {
      where: 'server.tlsCert',
      cause: error,
    });
  }
  return { key, cert };
}

/** A certificate for localhost, 127.0.0.1 and ::1, valid for a year; for local runs only. */
export async function selfSignedCertificate(): Promise<ServingCertificate> {
  // Loaded only here: a configured certificate (every cluster install) never needs the generator.
  // `default` is module.exports of this CommonJS package both in Node and in the bundle.
  const { generate } = (await import('selfsigned')).default;
  const notBeforeDate = new Date(Date.now() - 60_000);
  const notAfterDate = new Date(notBeforeDate.getTime() + 365 * 24 * 3600 * 1000);
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

/**
 * Calls `onChange` with the new pair whenever the files change and form a usable pair again,
 * and `onError` when they do not (the old certificate stays in use). Polls with stat, which also
 * sees Kubernetes' symlink swaps of mounted Secrets. Returns a function that stops watching.
 */
export function watchCertificate(
  files: { readonly cert: string; readonly key: string },
  onChange: (certificate: ServingCertificate) => void,
  onError: (error: unknown) => void,
): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const reload = (): void => {
    timer = undefined;
    readCertificate(files).then(
      (certificate) => {
        if (!stopped) onChange(certificate);
      },
      (error: unknown) => {
        if (!stopped) onError(error);
      },
    );
  };
  const listener = (current: Stats, previous: Stats): void => {
    if (current.mtimeMs === previous.mtimeMs && current.ino === previous.ino && current.size === previous.size) return;
    clearTimeout(timer);
    timer = setTimeout(reload, SETTLE_MS);
  };
  // Not persistent: watching must not keep the process alive once the server has closed.
  const options = { interval: POLL_INTERVAL_MS, persistent: false };
  watchFile(files.cert, options, listener);
  watchFile(files.key, options, listener);
  return () => {
    stopped = true;
    clearTimeout(timer);
    unwatchFile(files.cert, listener);
    unwatchFile(files.key, listener);
  };
}
