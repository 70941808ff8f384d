// AdmissionReviews of Pods, and a keep-alive HTTPS client that sends them and times each answer.
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { admissionReview, patchOf } from '../../test/support/serve.ts';
import type { AdmissionAnswer } from '../../test/support/serve.ts';

export { patchOf };
export type { AdmissionAnswer };

/** A Pod with one container per image, in namespace `bench`. */
export function podWith(images: readonly string[], name = 'bench'): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'bench' },
    spec: { containers: images.map((image, i) => ({ name: `c${String(i)}`, image })) },
  };
}

/** The AdmissionReview (v1, CREATE) the API server would send for `podWith(images)`. */
export function podReview(images: readonly string[], uid?: string): Record<string, unknown> {
  return admissionReview({ object: podWith(images), ...(uid === undefined ? {} : { uid }) });
}

/** One answer and how long it took, measured around the whole exchange. */
export interface TimedAnswer {
  readonly status: number;
  readonly ms: number;
  readonly answer: AdmissionAnswer | undefined;
}

/** A keep-alive HTTPS client for one server, with up to `connections` sockets. */
export class ReviewClient {
  readonly #pool: Pool;

  constructor(url: string, connections: number) {
    this.#pool = new Pool(url, { connections, pipelining: 1, connect: { rejectUnauthorized: false }, keepAliveTimeout: 60_000 });
  }

  /** POSTs `body` (already JSON) to `path` and times it. */
  async post(path: string, body: string): Promise<TimedAnswer> {
    const started = performance.now();
    const response = await this.#pool.request({
      method: 'POST',
      path,
      headers: { 'content-type': 'application/json' },
      body,
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    const text = await response.body.text();
    const ms = performance.now() - started;
    let answer: AdmissionAnswer | undefined;
    try {
      answer = JSON.parse(text) as AdmissionAnswer;
    } catch {
      answer = undefined;
    }
    return { status: response.statusCode, ms, answer };
  }

  /** Sends `review` to /mutate and fails unless the answer is an allowed HTTP 200 review. */
  async mutate(review: unknown): Promise<TimedAnswer & { readonly answer: AdmissionAnswer }> {
    const timed = await this.post('/mutate', JSON.stringify(review));
    if (timed.status !== 200 || timed.answer === undefined) throw new Error(`/mutate answered HTTP ${String(timed.status)}`);
    if (!timed.answer.response.allowed) throw new Error(`/mutate denied the review: ${timed.answer.response.status?.message ?? '(no message)'}`);
    return { ...timed, answer: timed.answer };
  }

  /** Opens up to `count` connections now (GET /healthz on each), so later timings exclude TLS handshakes. */
  async warm(count: number): Promise<void> {
    await Promise.all(
      Array.from({ length: count }, async () => {
        const response = await this.#pool.request({ method: 'GET', path: '/healthz', headersTimeout: 10_000, bodyTimeout: 10_000 });
        await response.body.dump();
      }),
    );
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }
}

/** The value each patch operation writes, keyed by its path. */
export function patchedImages(answer: AdmissionAnswer): ReadonlyMap<string, string> {
  return new Map(patchOf(answer).map((op) => [op.path, String(op.value)]));
}
