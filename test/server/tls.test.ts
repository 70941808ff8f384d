// The serving certificate: read from server.tlsCert/tlsKey and replaced when the files change, without a restart.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createPki } from '../support/pki.ts';
import type { IssuedCertificate, Pki } from '../support/pki.ts';
import { startServe } from '../support/serve.ts';
import type { TagpinServer } from '../support/serve.ts';
import { repoRoot } from '../support/paths.ts';
import { eventually } from '../support/wait.ts';

describe('tagpin serve TLS certificate', () => {
  let pki: Pki;
  let first: IssuedCertificate;
  let second: IssuedCertificate;
  const stops: Array<() => Promise<void>> = [];

  before(async () => {
    pki = await createPki();
    [first, second] = await Promise.all([pki.issue('serving-1', ['tagpin.tagpin.svc']), pki.issue('serving-2', ['tagpin.tagpin.svc'])]);
  });
  after(async () => {
    for (const stop of stops.splice(0)) await stop();
  });

  /** A server of its own for each test, serving `first` from files the test may then change. */
  async function serving(): Promise<{ readonly server: TagpinServer; readonly certFile: string; readonly keyFile: string }> {
    const dir = await mkdtemp(join(tmpdir(), 'tagpin-tls-'));
    const certFile = join(dir, 'tls.crt');
    const keyFile = join(dir, 'tls.key');
    await copyFile(first.certFile, certFile);
    await copyFile(first.keyFile, keyFile);
    const server = await startServe({ ca: pki.caPem, config: { server: { tlsCert: certFile, tlsKey: keyFile } } });
    stops.push(async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    });
    return { server, certFile, keyFile };
  }

  /** Waits until the server has reloaded its certificate `times` times in all (a log line per reload). */
  async function reloaded(server: TagpinServer, times: number): Promise<void> {
    await eventually(() => server.lines().filter((l) => l['msg'] === 'serving certificate reloaded').length >= times, `reload number ${String(times)}`);
  }

  it('serves the configured certificate, trusted through its CA', async () => {
    const { server } = await serving();
    const peer = await peerFingerprint(server.port);
    assert.equal(peer, fingerprint(first));
    assert.equal((await server.get('/healthz')).status, 200);
  });

  it('serves a renewed certificate without a restart and keeps open connections working', async () => {
    const { server, certFile, keyFile } = await serving();
    const open = await openConnection(server.port);
    assert.equal(await ask(open, '/healthz'), 200);

    await writeFile(keyFile, second.keyPem);
    await writeFile(certFile, second.certPem);
    await reloaded(server, 1);
    assert.equal(await peerFingerprint(server.port), fingerprint(second));
    // Same process, and the connection opened before the renewal still answers.
    assert.equal(server.lines().filter((l) => l['msg'] === 'listening').length, 1);
    assert.equal(await ask(open, '/readyz'), 200);
    open.end();
  });

  it('keeps the current certificate when the files change into something unusable', async () => {
    const { server, certFile } = await serving();
    await writeFile(certFile, second.certPem); // does not match the key on disk (first's)
    await server.waitForLine((l) => l['msg'] === 'serving certificate changed but cannot be used yet; keeping the old one');
    assert.equal(await peerFingerprint(server.port), fingerprint(first));
    assert.ok(!server.lines().some((l) => l['msg'] === 'serving certificate reloaded'), 'an unusable pair was loaded');
  });
});

describe('tagpin serve with bad settings', () => {
  it('exits 2 with one line naming the setting when the certificate file is missing', async () => {
    const result = await runServe('server:\n  tlsCert: /nonexistent/tls.crt\n  tlsKey: /nonexistent/tls.key\n');
    assert.equal(result.status, 2, result.stderr);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(result.stderr, /server\.tlsCert \/nonexistent\/tls\.crt: cannot read file: file not found/);
  });

  it('exits 2 with one line when audit.enabled has no Kubernetes API to scan, before listening', async () => {
    const result = await runServe('audit:\n  enabled: true\n  leaseNamespace: tagpin\nserver:\n  port: 1\n  metricsPort: 2\n', { KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '' });
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /^tagpin: audit\.enabled needs a Kubernetes API: run inside a cluster or set KUBECONFIG\n$/);
  });

  it('exits 2, without lingering, when the metrics port is taken', async () => {
    const [busy, spare] = [createServer(), createServer()];
    await Promise.all([busy, spare].map((s) => new Promise<void>((resolve) => s.listen(0, resolve))));
    const taken = (busy.address() as AddressInfo).port;
    const free = (spare.address() as AddressInfo).port;
    await new Promise((resolve) => spare.close(resolve));
    try {
      const result = await runServe(`server:\n  port: ${String(free)}\n  metricsPort: ${String(taken)}\n`);
      assert.equal(result.status, 2, result.stderr);
      assert.match(result.stderr, new RegExp(`^tagpin: server\\.metricsPort ${String(taken)}: cannot listen: address already in use\n$`));
    } finally {
      busy.close();
    }
  });
});

async function runServe(yaml: string, env: Readonly<Record<string, string>> = {}): Promise<{ readonly status: number | null; readonly stderr: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'tagpin-tls-'));
  try {
    const config = join(dir, 'config.yaml');
    await writeFile(config, yaml);
    const result = spawnSync(process.execPath, ['src/main.ts', 'serve', '--config', config], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, ...env },
    });
    return { status: result.status, stderr: result.stderr };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function fingerprint(certificate: IssuedCertificate): string {
  return new X509Certificate(certificate.certPem).fingerprint256;
}

async function openConnection(port: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(socket);
    });
    socket.setEncoding('utf8');
    socket.once('error', reject);
  });
}

async function peerFingerprint(port: number): Promise<string> {
  const socket = await openConnection(port);
  const value = socket.getPeerCertificate().fingerprint256;
  socket.end();
  return value;
}

/** Sends GET `path` on an open keep-alive connection and returns the status code. */
async function ask(socket: TLSSocket, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: string): void => {
      text += chunk;
      const match = /^HTTP\/1\.1 (\d{3}) [\s\S]*?\r\n\r\n/.exec(text);
      if (match !== null) {
        socket.off('data', onData);
        resolve(Number(match[1]));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
  });
}
