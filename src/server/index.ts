// `tagpin serve`: wires config, registry, cluster credentials and metrics to the HTTPS webhook server; start-up and graceful shutdown.
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Server as NetServer } from 'node:net';
import { hostname } from 'node:os';
import { pino, type Logger } from 'pino';
import type { BackgroundAudit } from '../reports/index.ts';
import { failedReview, handleReview, type AdmissionDeps, type Keyring, type PullCredentialSource, type Resolver, type ReviewOutcome } from '../admission/index.ts';
import { createAuditLog } from '../audit/index.ts';
import type { Config } from '../config/index.ts';
import { ConfigError, describeError } from '../errors/index.ts';
import { createMetrics, type Metrics } from '../metrics/index.ts';
import { openRegistryAccess } from '../registry/index.ts';
import { createRequestListener } from './app.ts';
import { createMetricsServer } from './metrics-server.ts';
import { MIN_TLS_VERSION, certificateFiles, readCertificate, selfSignedCertificate, watchCertificate } from './tls.ts';

export { createApp, BODY_LIMIT_BYTES } from './app.ts';
export type { AppOptions } from './app.ts';

/** In-flight requests get this long after SIGTERM, so the process exits within 10 s. */
const DRAIN_TIMEOUT_MS = 9_000;

/** How long an idle connection stays open: longer than the 90 s the API server's client keeps one. */
const KEEP_ALIVE_MS = 120_000;

/** Runs `tagpin serve` until SIGTERM/SIGINT, then drains and resolves. */
export async function serve(config: Config): Promise<void> {
  // Lines go to stdout asynchronously: an admission appends its audit line to a buffer that is written
  // as soon as the previous write is done, instead of waiting for a write(2) of its own. Nothing is
  // held back for lack of traffic; shutdown flushes what is left.
  const destination = pino.destination({ dest: 1, sync: false });
  const root = pino({ level: process.env.TAGPIN_LOG_LEVEL ?? 'info' }, destination);
  const log = root.child({ logger: 'server' });
  const audit = createAuditLog(root);
  const metrics = createMetrics();

  const files = certificateFiles(config.server);
  const certificate = files === undefined ? await selfSignedCertificate() : await readCertificate(files);
  if (files === undefined) {
    log.warn('server.tlsCert and server.tlsKey are not set: serving a generated self-signed certificate for localhost (not for a cluster)');
  }
  const { resolver, keyring, proxy } = await openRegistryAccess(config, { observer: metrics.registryObserver, caller: 'server' });
  if (proxy !== undefined) log.info({ proxy }, 'registry and token requests go through a proxy');
  const kube = await openKube(log, metrics);
  const credentials = kube?.credentials;
  // Before listening: a background audit that cannot run stops start-up with its reason.
  const background = config.audit.enabled ? await startAudits(config, kube, { resolver, keyring, metrics, log: root.child({ logger: 'audit-scan' }) }) : undefined;

  const deps: AdmissionDeps = {
    config,
    resolver,
    keyring,
    ...(credentials === undefined ? {} : { credentials }),
    observer: {
      onResolveError: (event) => {
        metrics.observeResolveError(event.registry, event.code);
      },
      onCredentialWarning: () => {
        metrics.observeCredentialWarning();
      },
    },
  };

  let ready = false;
  const listener = createRequestListener({
    log,
    isReady: () => ready,
    rejected: (webhook, status, error) => {
      metrics.observeRejectedRequest(webhook, status);
      log.info({ webhook, status, error }, 'request rejected');
    },
    // The one error boundary of admission: whatever throws while a review is handled is logged with
    // its stack and answered by the configured failure path, never as an HTTP error.
    review: async (webhook, body, startedAt) => {
      const record = (outcome: ReviewOutcome): ReviewOutcome => {
        if (outcome.status !== 200) return outcome;
        const event = outcome.audit;
        if (outcome.notes.length > 0 || outcome.internalError !== undefined) {
          // A child logger costs more than the admission's own work: made only when there is something to say.
          const admissionLog = log.child({ uid: event.uid, webhook });
          for (const note of outcome.notes) admissionLog.warn(note);
          if (outcome.internalError !== undefined) admissionLog.error({ err: outcome.internalError }, 'admission failed inside tagpin');
        }
        audit.record(event);
        metrics.observeAdmission(webhook, event.decision, event.durationMs / 1000);
        return outcome;
      };
      try {
        return record(await handleReview(webhook, body, deps, startedAt));
      } catch (error) {
        return record(failedReview(webhook, body, deps, error, startedAt));
      }
    },
  });

  const server = createHttpsServer({ minVersion: MIN_TLS_VERSION, key: certificate.key, cert: certificate.cert }, listener);
  // Idle keep-alive connections are left for the client to close. The API server's Go client keeps
  // them up to 90 s; Node's default of 5 s made tagpin close connections the API server was just
  // writing its next review to ("write: broken pipe", a failed admission), which it does not retry.
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  const metricsServer = createMetricsServer(metrics, log);
  let port: number;
  let metricsPort: number;
  try {
    port = await listen(server, config.server.port, 'server.port');
    metricsPort = await listen(metricsServer, config.server.metricsPort, 'server.metricsPort');
  } catch (error) {
    // A server left listening would keep the process alive after the error is reported.
    server.close();
    metricsServer.close();
    await background?.stop();
    await resolver.close().catch(() => undefined);
    throw error;
  }
  const stopWatching =
    files === undefined
      ? () => undefined
      : watchCertificate(
          files,
          (next) => {
            server.setSecureContext({ minVersion: MIN_TLS_VERSION, key: next.key, cert: next.cert });
            log.info({ tlsCert: files.cert }, 'serving certificate reloaded');
          },
          (error) => {
            log.warn({ tlsCert: files.cert, error: describeError(error) }, 'serving certificate changed but cannot be used yet; keeping the old one');
          },
        );

  ready = true;
  log.info({ port, metricsPort }, 'listening');
  log.info(`send a review: ${curlExample(port)}`);

  const signal = await shutdownSignal();
  ready = false;
  log.info({ signal }, 'draining: readiness is 503, no new connections, in-flight requests finish');
  stopWatching();
  await background?.stop();
  const [forced] = await Promise.all([drain(server, DRAIN_TIMEOUT_MS), drain(metricsServer, 1_000)]);
  if (forced) log.warn('drain timed out; remaining connections closed');
  await resolver.close().catch(() => undefined);
  log.info('stopped');
  destination.flushSync();
  // Nothing should be left to keep the process alive; if a library still holds a handle, do not wait on it.
  setTimeout(() => process.exit(process.exitCode ?? 0), 500).unref();
}

/** The Kubernetes API when one is configured: its client config, module and pull-credential source; else none (with a line saying so). */
async function openKube(log: Logger, metrics: Metrics) {
  // The Kubernetes client is large (tens of MiB once loaded): load it only when there is an API to talk to.
  const configured = [process.env.KUBERNETES_SERVICE_HOST, process.env.KUBECONFIG].some((v) => v !== undefined && v.trim() !== '');
  const kube = configured ? await import('../kube/index.ts') : undefined;
  const kubeConfig = kube?.loadKubeConfig();
  if (kube === undefined || kubeConfig === undefined) {
    log.info('no Kubernetes API configured (not in a cluster, KUBECONFIG unset): pull secrets are not read');
    return undefined;
  }
  const credentials: PullCredentialSource = kube.createKubeCredentialSource({
    kubeConfig,
    observer: {
      onRead: (event) => {
        metrics.observeKubeRead(event.kind, event.result);
      },
    },
  });
  return { kube, kubeConfig, credentials };
}

/**
 * Starts background audits (`audit.enabled`) with the server's registry client and credentials.
 * @throws ConfigError when there is no Kubernetes API, or no namespace for the Lease
 */
async function startAudits(
  config: Config,
  opened: Awaited<ReturnType<typeof openKube>>,
  deps: { readonly resolver: Resolver; readonly keyring: Keyring; readonly metrics: Metrics; readonly log: Logger },
): Promise<BackgroundAudit> {
  if (opened === undefined) throw new ConfigError('audit.enabled needs a Kubernetes API: run inside a cluster or set KUBECONFIG', { where: 'audit.enabled' });
  const { kube, kubeConfig, credentials } = opened;
  const leaseNamespace = config.audit.leaseNamespace ?? nonEmpty(process.env.POD_NAMESPACE);
  if (leaseNamespace === undefined) {
    throw new ConfigError('audit.enabled needs the namespace of its Lease: set audit.leaseNamespace or $POD_NAMESPACE', { where: 'audit.leaseNamespace' });
  }
  const { startBackgroundAudit, REPORT_NAME } = await import('../reports/index.ts');
  const { objectReader, workloadKinds } = await import('../workload/index.ts');
  const kinds = workloadKinds(config.workloads);
  const request = kube.createKubeRequest(kubeConfig);
  const identity = nonEmpty(process.env.POD_NAME) ?? `${hostname()}-${String(process.pid)}`;
  const { intervalSeconds, lookupsPerSecond, leaseName } = config.audit;
  return startBackgroundAudit({
    inventory: {
      lister: kube.createKubeLister(kubeConfig),
      resources: kube.workloadResources(kinds),
      reader: objectReader(kinds),
      namespace: undefined,
      resolver: deps.resolver,
      keyring: deps.keyring,
      credentials,
      config,
    },
    intervalSeconds,
    lookupsPerSecond,
    identity,
    lease: kube.createLeaseElector({ request, namespace: leaseNamespace, name: leaseName, identity, durationSeconds: 2 * intervalSeconds }),
    writeReport: (namespace, report, signal) =>
      kube.putObject(request, `/apis/wgpolicyk8s.io/v1alpha2/namespaces/${encodeURIComponent(namespace)}/policyreports`, REPORT_NAME, report, signal),
    postEvent: (event, signal) => {
      const namespace = String((event.metadata as { namespace?: unknown } | undefined)?.namespace ?? '');
      return kube.postObject(request, `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, event, signal);
    },
    setGauge: (counts) => {
      deps.metrics.setClusterImages(counts);
    },
    log: deps.log,
  });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

/** Listens on `port` (0 picks a free one) and returns the port in use. */
async function listen(server: NetServer, port: number, key: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      const reason = error.code === 'EADDRINUSE' ? 'address already in use' : error.code === 'EACCES' ? 'permission denied' : describeError(error);
      reject(new ConfigError(`${key} ${String(port)}: cannot listen: ${reason}`, { where: key, cause: error }));
    };
    server.once('error', onError);
    server.listen(port, () => {
      server.off('error', onError);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

function shutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(signal);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}

/**
 * Stops accepting connections and waits for in-flight requests; keep-alive connections are
 * closed as soon as they are idle. Resolves true when `timeoutMs` ran out and connections were cut.
 */
async function drain(server: NetServer | HttpsServer, timeoutMs: number): Promise<boolean> {
  const http = server as Partial<Pick<HttpsServer, 'closeIdleConnections' | 'closeAllConnections'>>;
  return new Promise((resolve) => {
    let forced = false;
    const idle = setInterval(() => http.closeIdleConnections?.(), 100);
    const force = setTimeout(() => {
      forced = true;
      http.closeAllConnections?.();
    }, timeoutMs);
    server.close(() => {
      clearInterval(idle);
      clearTimeout(force);
      resolve(forced);
    });
    http.closeIdleConnections?.();
  });
}

/** A command that sends a small Pod review to the local server. */
function curlExample(port: number): string {
  const review = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'try-1',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      operation: 'CREATE',
      namespace: 'default',
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'try' }, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } },
    },
  };
  return `curl -sk https://localhost:${String(port)}/mutate -H 'Content-Type: application/json' -d '${JSON.stringify(review)}'`;
}
