// skopeo's own choice of a platform's manifest, as the expected digest of platform tests.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestRegistry } from './registry.ts';

const run = promisify(execFile);

/**
 * The digest of the manifest skopeo picks for `os/arch[/variant]` from `repository:tag`: it copies
 * that platform's image into a dir: layout and hashes the manifest it wrote (`skopeo manifest-digest`),
 * so neither tagpin nor the test chooses the entry. TLS registries are verified against their CA.
 */
export async function skopeoPlatformDigest(registry: TestRegistry, repository: string, tag: string, platform: string): Promise<string> {
  const [os = '', arch = '', variant] = platform.split('/');
  const dir = await mkdtemp(join(tmpdir(), 'tagpin-skopeo-'));
  try {
    const tls: string[] = [];
    if (registry.pki === undefined) tls.push('--src-tls-verify=false');
    else {
      await writeFile(join(dir, 'ca.crt'), registry.pki.caPem);
      tls.push('--src-cert-dir', dir);
    }
    const creds = registry.username === undefined ? [] : ['--src-creds', `${registry.username}:${registry.password ?? ''}`];
    const overrides = ['--override-os', os, '--override-arch', arch, ...(variant === undefined ? [] : ['--override-variant', variant])];
    const image = join(dir, 'image');
    await run('skopeo', [...overrides, 'copy', ...tls, ...creds, `docker://${registry.host}/${repository}:${tag}`, `dir:${image}`], { timeout: 60_000 });
    const { stdout } = await run('skopeo', ['manifest-digest', join(image, 'manifest.json')], { timeout: 60_000 });
    return stdout.trim();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
