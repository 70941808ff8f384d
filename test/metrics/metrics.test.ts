// Metrics: the contract's names on a private registry, fed by the server and the registry client's observer.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { register as globalRegistry } from 'prom-client';
import { createMetrics } from '../../src/metrics/index.ts';

describe('createMetrics', () => {
  it('counts admissions by webhook and decision and observes their duration', async () => {
    const metrics = createMetrics();
    metrics.observeAdmission('mutate', 'patched', 0.02);
    metrics.observeAdmission('mutate', 'patched', 0.03);
    metrics.observeAdmission('validate', 'denied', 0.001);
    const text = await metrics.registry.metrics();
    assert.match(text, /^tagpin_admission_requests_total\{webhook="mutate",decision="patched"\} 2$/m);
    assert.match(text, /^tagpin_admission_requests_total\{webhook="validate",decision="denied"\} 1$/m);
    assert.match(text, /^tagpin_admission_duration_seconds_count\{webhook="mutate"\} 2$/m);
    assert.match(text, /^tagpin_admission_duration_seconds_bucket\{le="0\.025",webhook="mutate"\} 1$/m);
  });

  it('counts registry requests and cache results reported by the registry client', async () => {
    const metrics = createMetrics();
    metrics.registryObserver.onRequest?.({ registry: 'ghcr.io', method: 'HEAD', status: 200 });
    metrics.registryObserver.onRequest?.({ registry: 'ghcr.io', method: 'GET', status: 0 });
    metrics.registryObserver.onCache?.('hit');
    metrics.registryObserver.onCache?.('coalesced');
    const text = await metrics.registry.metrics();
    assert.match(text, /^tagpin_registry_requests_total\{registry="ghcr\.io",method="HEAD",status="200"\} 1$/m);
    assert.match(text, /^tagpin_registry_requests_total\{registry="ghcr\.io",method="GET",status="0"\} 1$/m);
    assert.match(text, /^tagpin_resolve_cache_total\{result="hit"\} 1$/m);
    assert.match(text, /^tagpin_resolve_cache_total\{result="coalesced"\} 1$/m);
  });

  it('counts registry retries by registry, method and the status that caused them', async () => {
    const metrics = createMetrics();
    metrics.registryObserver.onRetry?.({ registry: 'ghcr.io', method: 'HEAD', status: 503, delayMs: 80 });
    metrics.registryObserver.onRetry?.({ registry: 'ghcr.io', method: 'HEAD', status: 503, delayMs: 150 });
    metrics.registryObserver.onRetry?.({ registry: 'ghcr.io', method: 'GET', status: 0, delayMs: 20 });
    const text = await metrics.registry.metrics();
    assert.match(text, /^tagpin_registry_retries_total\{registry="ghcr\.io",method="HEAD",status="503"\} 2$/m);
    assert.match(text, /^tagpin_registry_retries_total\{registry="ghcr\.io",method="GET",status="0"\} 1$/m);
  });

  it('counts resolve errors, rejected requests, credential warnings and Kubernetes reads', async () => {
    const metrics = createMetrics();
    metrics.observeResolveError('docker.io', 'REGISTRY_RATE_LIMITED');
    metrics.observeRejectedRequest('validate', 413);
    metrics.observeCredentialWarning();
    metrics.observeKubeRead('secret', 'not-found');
    const text = await metrics.registry.metrics();
    assert.match(text, /^tagpin_resolve_errors_total\{registry="docker\.io",code="REGISTRY_RATE_LIMITED"\} 1$/m);
    assert.match(text, /^tagpin_admission_rejected_requests_total\{webhook="validate",status="413"\} 1$/m);
    assert.match(text, /^tagpin_pull_credential_warnings_total 1$/m);
    assert.match(text, /^tagpin_kube_reads_total\{kind="secret",result="not-found"\} 1$/m);
  });

  it('names every metric with the tagpin_ prefix and keeps them off the global registry', async () => {
    const metrics = createMetrics();
    const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name);
    assert.ok(names.length > 10);
    for (const name of names) assert.match(name, /^tagpin_/);
    assert.ok((await globalRegistry.getMetricsAsJSON()).every((m) => !m.name.startsWith('tagpin_')));
    // Two instances do not collide (each has its own registry).
    assert.doesNotThrow(() => createMetrics());
  });
});
