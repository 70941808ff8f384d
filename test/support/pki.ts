// A throw-away certificate authority for tests, built with the openssl CLI.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { removeOnExit } from './exit-cleanup.ts';

const run = promisify(execFile);

/** A leaf certificate and its key, as files and as PEM text. */
export interface IssuedCertificate {
  readonly certFile: string;
  readonly keyFile: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** A fresh CA (EC P-256) whose certificate clients trust through `caFile` / `caPem`. */
export interface Pki {
  /** Directory holding the CA and every issued certificate; removed when the test process exits. */
  readonly dir: string;
  readonly caFile: string;
  readonly caPem: string;
  /**
   * Issues a leaf certificate valid for serving TLS and for signing (JWTs), with the SANs
   * DNS:localhost, IP:127.0.0.1 and IP:::1 plus `sans` (IP literals become IP SANs, the rest DNS).
   * The subject is CN=`name`, with O=`organization` when given (Kubernetes reads it as the group).
   */
  issue(name: string, sans: readonly string[], organization?: string): Promise<IssuedCertificate>;
}

/** Names become file names, so keep them to a safe alphabet. */
const safeName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Creates a CA in a new temp directory. Needs the `openssl` binary. */
export async function createPki(): Promise<Pki> {
  const dir = await mkdtemp(join(tmpdir(), 'tagpin-pki-'));
  removeOnExit(dir);
  const caFile = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  await openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', caKey, '-out', caFile, '-days', '2', '-subj', '/CN=tagpin test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  const caPem = await readFile(caFile, 'utf8');

  async function issue(name: string, sans: readonly string[], organization?: string): Promise<IssuedCertificate> {
    if (!safeName.test(name)) throw new Error(`certificate name "${name}" must match ${safeName.source}`);
    const keyFile = join(dir, `${name}.key`);
    const csrFile = join(dir, `${name}.csr`);
    const certFile = join(dir, `${name}.crt`);
    const extFile = join(dir, `${name}.ext`);
    const names = [...new Set(['localhost', '127.0.0.1', '::1', ...sans])];
    const altNames = names.map((n) => (isIP(n) === 0 ? `DNS:${n}` : `IP:${n}`)).join(',');
    await writeFile(extFile, [
      'basicConstraints=critical,CA:FALSE',
      // Distribution checks digitalSignature on the certificate that signs its tokens.
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth,clientAuth',
      `subjectAltName=${altNames}`,
      'subjectKeyIdentifier=hash',
      'authorityKeyIdentifier=keyid',
      '',
    ].join('\n'));
    await openssl([
      'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyFile, '-out', csrFile, '-subj', `${organization === undefined ? '' : `/O=${organization}`}/CN=${name}`,
    ]);
    await openssl([
      'x509', '-req', '-in', csrFile, '-CA', caFile, '-CAkey', caKey, '-days', '2',
      '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-extfile', extFile, '-out', certFile,
    ]);
    const [certPem, keyPem] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
    return { certFile, keyFile, certPem, keyPem };
  }

  return { dir, caFile, caPem, issue };
}

async function openssl(args: readonly string[]): Promise<void> {
  try {
    await run('openssl', [...args], { timeout: 10_000 });
  } catch (error) {
    const detail = (error as { stderr?: string }).stderr?.trim() ?? String(error);
    throw new Error(`openssl ${args[0] ?? ''} failed: ${detail}`, { cause: error });
  }
}
