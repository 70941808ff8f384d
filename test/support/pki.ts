// A throw-away certificate authority for tests, built with the openssl CLI.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
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
  issue(name: string, sans: readonly string[], organization?: string, options?: IssueOptions): Promise<IssuedCertificate>;
}

/** How a leaf differs from the usual one: for other names only, or valid at another time. */
export interface IssueOptions {
  /** Only `sans`, without localhost and the loopback addresses: trusted, but for another host. @default false */
  readonly onlySans?: boolean;
  /** When the certificate is valid (an expired or not-yet-valid one). @default from now, for 2 days */
  readonly validity?: { readonly notBefore: Date; readonly notAfter: Date };
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

  async function issue(name: string, sans: readonly string[], organization?: string, options: IssueOptions = {}): Promise<IssuedCertificate> {
    if (!safeName.test(name)) throw new Error(`certificate name "${name}" must match ${safeName.source}`);
    const keyFile = join(dir, `${name}.key`);
    const csrFile = join(dir, `${name}.csr`);
    const certFile = join(dir, `${name}.crt`);
    const extFile = join(dir, `${name}.ext`);
    const names = [...new Set([...(options.onlySans === true ? [] : ['localhost', '127.0.0.1', '::1']), ...sans])];
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
    if (options.validity === undefined) {
      await openssl([
        'x509', '-req', '-in', csrFile, '-CA', caFile, '-CAkey', caKey, '-days', '2',
        '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-extfile', extFile, '-out', certFile,
      ]);
    } else {
      await signWithDates(dir, name, { csrFile, extFile, certFile, caFile, caKey }, options.validity);
    }
    const [certPem, keyPem] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
    return { certFile, keyFile, certPem, keyPem };
  }

  return { dir, caFile, caPem, issue };
}

/**
 * Signs `csrFile` valid from `notBefore` to `notAfter`: `openssl x509` (3.0) only counts days from now,
 * so this uses `openssl ca`, which takes dates but wants a configuration and a database of its own.
 */
async function signWithDates(
  dir: string,
  name: string,
  files: { readonly csrFile: string; readonly extFile: string; readonly certFile: string; readonly caFile: string; readonly caKey: string },
  validity: { readonly notBefore: Date; readonly notAfter: Date },
): Promise<void> {
  const caDir = join(dir, `${name}.ca`);
  await mkdir(caDir);
  const config = join(caDir, 'ca.cnf');
  await writeFile(join(caDir, 'index.txt'), '');
  await writeFile(join(caDir, 'serial'), `${randomBytes(16).toString('hex')}\n`);
  await writeFile(config, [
    '[ca]', 'default_ca = test', '[test]', `dir = ${caDir}`, 'database = $dir/index.txt', 'serial = $dir/serial',
    'new_certs_dir = $dir', 'default_md = sha256', 'policy = any', 'unique_subject = no', '[any]', 'commonName = supplied', '',
  ].join('\n'));
  // openssl ca reads dates as UTC in the form YYYYMMDDHHMMSSZ.
  const stamp = (date: Date): string => `${date.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
  await openssl([
    'ca', '-batch', '-config', config, '-cert', files.caFile, '-keyfile', files.caKey, '-in', files.csrFile,
    '-out', files.certFile, '-extfile', files.extFile, '-notext',
    '-startdate', stamp(validity.notBefore), '-enddate', stamp(validity.notAfter),
  ]);
}

async function openssl(args: readonly string[]): Promise<void> {
  try {
    await run('openssl', [...args], { timeout: 10_000 });
  } catch (error) {
    const detail = (error as { stderr?: string }).stderr?.trim() ?? String(error);
    throw new Error(`openssl ${args[0] ?? ''} failed: ${detail}`, { cause: error });
  }
}
