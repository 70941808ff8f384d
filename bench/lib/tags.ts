// Many tags for one manifest, so a benchmark can fill tagpin's cache with distinct entries in seconds.
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { harnessUserAgent, manifestAccept } from '../../test/support/registry.ts';
import type { TestRegistry } from '../../test/support/registry.ts';
import { forEachLimited, median, round } from './bench.ts';
import type { Budget } from './bench.ts';

/**
 * Pushes one image and PUTs its manifest under `count` more tags: the registry stores a tag link per
 * PUT and no new blobs, so 10,000 tags take seconds, not the minutes 10,000 pushes would.
 */
export async function tagManyTimes(registry: TestRegistry, repository: string, count: number, budget: Budget): Promise<readonly string[]> {
  await registry.push(repository, 'base', 'oci-manifest');
  const base = `${registry.baseUrl}/v2/${repository}/manifests`;
  const got = await request(`${base}/base`, { headers: { accept: manifestAccept, 'user-agent': harnessUserAgent }, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const bytes = Buffer.from(await got.body.arrayBuffer());
  const contentType = String(got.headers['content-type']);
  const tags = Array.from({ length: count }, (_, i) => `t${String(i).padStart(5, '0')}`);
  const times: number[] = [];
  await forEachLimited(tags, 8, budget, async (tag) => {
    const started = performance.now();
    const put = await request(`${base}/${tag}`, {
      method: 'PUT',
      body: bytes,
      headers: { 'content-type': contentType, 'user-agent': harnessUserAgent },
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    await put.body.dump();
    if (put.statusCode !== 201) throw new Error(`tagging ${repository}:${tag} answered HTTP ${String(put.statusCode)}`);
    times.push(performance.now() - started);
  });
  process.stdout.write(`tagged ${String(count)} times, median PUT ${String(round(median(times), 1))} ms\n`);
  return tags;
}
