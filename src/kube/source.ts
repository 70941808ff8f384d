// Pull credentials of a pod from the cluster: its imagePullSecrets, then its service account's.
import type { KubeConfig, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import type { PullCredentialRequest, PullCredentialSource } from '../admission/index.ts';
import { emptyKeyring, mergeKeyrings } from '../credentials/index.ts';
import type { Keyring } from '../credentials/index.ts';
import { ConfigError } from '../errors/index.ts';
import { createKubeReader } from './api.ts';
import type { KubeReader } from './api.ts';
import { ReadCache } from './cache.ts';
import { loadKubeConfig } from './config.ts';
import { secretContent } from './secret.ts';
import type { KubeCredentialSourceOptions, KubeObjectKind, KubeObserver, ReadOutcome, SecretContent } from './types.ts';

/** Matches the default of `cacheTtlMs`: short, so a rotated secret is picked up within half a minute. */
const defaultCacheTtlMs = 30_000;
/** Enough for every pull secret of a large cluster; expired entries go first. */
const maxCachedObjects = 10_000;
const serviceAccountConsequence = 'resolving without its imagePullSecrets';
const secretConsequence = 'resolving anonymously';

type SecretOutcome = ReadOutcome<SecretContent>;
type ServiceAccountOutcome = ReadOutcome<readonly string[]>;

/**
 * A `PullCredentialSource` that reads Secrets and ServiceAccounts with GET (never list or watch),
 * caches each object (or its absence) for `cacheTtlMs`, and shares one read among concurrent callers.
 * @throws ConfigError when no kubeconfig is given or found, or it names no cluster
 */
export function createKubeCredentialSource(options: KubeCredentialSourceOptions = {}): PullCredentialSource {
  const ttlMs = options.cacheTtlMs ?? defaultCacheTtlMs;
  if (!Number.isFinite(ttlMs) || ttlMs < 0) {
    throw new ConfigError(`cacheTtlMs must be a non-negative number of milliseconds, got ${String(ttlMs)}`);
  }
  const kubeConfig = options.kubeConfig ?? loadKubeConfig();
  if (kubeConfig === undefined) {
    throw new ConfigError('no Kubernetes API to read pull secrets from: run inside a cluster or set KUBECONFIG');
  }
  return new KubeCredentialSource(readerFor(kubeConfig), ttlMs, options.observer);
}

function readerFor(kubeConfig: KubeConfig): KubeReader {
  try {
    return createKubeReader(kubeConfig);
  } catch (err) {
    throw new ConfigError('the kubeconfig names no current cluster; set current-context', { where: 'KUBECONFIG', cause: err });
  }
}

class KubeCredentialSource implements PullCredentialSource {
  readonly #reader: KubeReader;
  readonly #observer: KubeObserver | undefined;
  readonly #secrets: ReadCache<SecretOutcome>;
  readonly #serviceAccounts: ReadCache<ServiceAccountOutcome>;

  constructor(reader: KubeReader, ttlMs: number, observer: KubeObserver | undefined) {
    this.#reader = reader;
    this.#observer = observer;
    // Absence and refusal are answers too: caching them keeps a burst of admissions from hammering the API.
    const cacheable = (outcome: ReadOutcome<unknown>): boolean =>
      outcome.status === 'found' || outcome.status === 'not-found' || outcome.status === 'forbidden';
    this.#secrets = new ReadCache<SecretOutcome>({ ttlMs, maxEntries: maxCachedObjects, cacheable });
    this.#serviceAccounts = new ReadCache<ServiceAccountOutcome>({ ttlMs, maxEntries: maxCachedObjects, cacheable });
  }

  async keyringFor(request: PullCredentialRequest): Promise<{ readonly keyring: Keyring; readonly warnings: readonly string[] }> {
    const { namespace, deadline } = request;
    const warnings: string[] = [];
    const keyrings: Keyring[] = [];
    try {
      if (namespace === '') return { keyring: emptyKeyring, warnings: ['no namespace given; pull secrets not read, resolving anonymously'] };
      const podNames = unique(request.imagePullSecrets);
      const serviceAccountName = nonEmpty(request.serviceAccountName) ? request.serviceAccountName : 'default';
      const serviceAccount = this.#readServiceAccount(namespace, serviceAccountName, deadline);
      const podSecrets = podNames.map((name) => this.#readSecret(namespace, name, deadline));

      for (const [index, outcome] of (await Promise.all(podSecrets)).entries()) {
        this.#collect(namespace, podNames[index] ?? '', outcome, keyrings, warnings);
      }
      const accountOutcome = await serviceAccount;
      const accountLabel = `service account ${namespace}/${serviceAccountName}`;
      const warning = problemOf(accountLabel, accountOutcome, 'serviceaccounts', namespace, serviceAccountConsequence);
      if (warning !== undefined) warnings.push(warning);
      // A secret the pod already names is used once, in the pod's position.
      const accountNames = accountOutcome.status === 'found' ? unique(accountOutcome.value).filter((name) => !podNames.includes(name)) : [];
      const accountSecrets = accountNames.map((name) => this.#readSecret(namespace, name, deadline));
      for (const [index, outcome] of (await Promise.all(accountSecrets)).entries()) {
        this.#collect(namespace, accountNames[index] ?? '', outcome, keyrings, warnings);
      }
    } catch {
      // Reads never throw; this guards the promise the admission core awaits against a bug here.
      warnings.push(`pull secrets in namespace ${namespace} could not be read; ${secretConsequence}`);
    }
    return { keyring: keyrings.length === 0 ? emptyKeyring : mergeKeyrings(...keyrings), warnings };
  }

  #collect(namespace: string, name: string, outcome: SecretOutcome, keyrings: Keyring[], warnings: string[]): void {
    const label = `imagePullSecret ${namespace}/${name}`;
    if (outcome.status === 'found') {
      if (outcome.value.usable) keyrings.push(outcome.value.keyring);
      else warnings.push(`${label} ${outcome.value.problem}; ignored`);
      return;
    }
    const warning = problemOf(label, outcome, 'secrets', namespace, secretConsequence);
    if (warning !== undefined) warnings.push(warning);
  }

  async #readSecret(namespace: string, name: string, deadline: number): Promise<SecretOutcome> {
    const source = `secret ${namespace}/${name}`;
    return this.#read(this.#secrets, 'secret', namespace, name, deadline, async (signal) => {
      const outcome = await this.#reader.readSecret(namespace, name, signal);
      return mapFound(outcome, (secret: V1Secret) => secretContent(secret, source));
    });
  }

  async #readServiceAccount(namespace: string, name: string, deadline: number): Promise<ServiceAccountOutcome> {
    return this.#read(this.#serviceAccounts, 'serviceaccount', namespace, name, deadline, async (signal) => {
      const outcome = await this.#reader.readServiceAccount(namespace, name, signal);
      return mapFound(outcome, (account: V1ServiceAccount) =>
        (account.imagePullSecrets ?? []).map((ref) => ref.name ?? '').filter(nonEmpty),
      );
    });
  }

  async #read<T>(
    cache: ReadCache<ReadOutcome<T>>,
    kind: KubeObjectKind,
    namespace: string,
    name: string,
    deadline: number,
    load: (signal: AbortSignal) => Promise<ReadOutcome<T>>,
  ): Promise<ReadOutcome<T>> {
    const result = await cache.read(`${namespace}/${name}`, deadline, async (signal) => {
      let outcome: ReadOutcome<T>;
      try {
        outcome = await load(signal);
      } catch {
        outcome = { status: 'failed', reason: 'unexpected error' };
      }
      this.#notify((observer) => observer.onRead?.({ kind, result: readResult(outcome) }));
      return outcome;
    });
    if (result === undefined) return { status: 'timeout' };
    this.#notify((observer) => observer.onCache?.(result.via));
    return result.value;
  }

  #notify(event: (observer: KubeObserver) => void): void {
    if (this.#observer === undefined) return;
    try {
      event(this.#observer);
    } catch {
      // A failing metrics hook must not cost an admission its credentials.
    }
  }
}

function mapFound<A, B>(outcome: ReadOutcome<A>, map: (value: A) => B): ReadOutcome<B> {
  return outcome.status === 'found' ? { status: 'found', value: map(outcome.value) } : outcome;
}

function readResult(outcome: ReadOutcome<unknown>): 'found' | 'not-found' | 'forbidden' | 'error' | 'timeout' {
  return outcome.status === 'failed' ? 'error' : outcome.status;
}

/** The warning for an object that could not be used, or undefined when it was read. */
function problemOf(
  label: string,
  outcome: ReadOutcome<unknown>,
  resource: string,
  namespace: string,
  consequence: string,
): string | undefined {
  switch (outcome.status) {
    case 'found':
      return undefined;
    case 'not-found':
      return `${label} not found; ${consequence}`;
    case 'forbidden':
      return `${label} could not be read (403 Forbidden: tagpin needs get on ${resource} in ${namespace}); ${consequence}`;
    case 'failed':
      return `${label} could not be read (Kubernetes API: ${outcome.reason}); ${consequence}`;
    case 'timeout':
      return `${label} could not be read before the deadline (Kubernetes API too slow); ${consequence}`;
  }
}

function unique(names: readonly string[]): string[] {
  return [...new Set(names.filter(nonEmpty))];
}

function nonEmpty(value: string | undefined): value is string {
  return value !== undefined && value !== '';
}
