// A bounded load generator for lifecycle tests: one TLS connection per request, each outcome classified precisely.
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';

/** How one request ended. */
export type Outcome =
  /** HTTP 200 with a body the caller's `check` accepted. */
  | { readonly kind: 'answered'; readonly certificate: string }
  /** The connection failed before TLS was established: the request never left the client. */
  | { readonly kind: 'refused'; readonly code: string }
  /** TLS was established (the request was sent or about to be) and no complete answer came: a dropped request. */
  | { readonly kind: 'aborted'; readonly detail: string }
  /** The handshake itself failed (bad certificate, alert): what certificate rotation must never cause. */
  | { readonly kind: 'handshake-failed'; readonly detail: string }
  /** An answer arrived but was wrong (status or body). */
  | { readonly kind: 'wrong'; readonly detail: string };

/** One request to send. */
export interface LoadRequest {
  readonly path: string;
  readonly body: string;
  /** Returns undefined when the answer is right, else why not. */
  readonly check: (status: number, text: string) => string | undefined;
}

/** Options of `runLoad`. */
export interface LoadOptions {
  readonly port: number;
  readonly total: number;
  readonly concurrency: number;
  readonly request: (index: number) => LoadRequest;
  /** TLS trust: a CA and the name to check, or none (accept any certificate). */
  readonly ca?: string;
  /** Called after each request with how many have finished and how it ended; lets a test act mid-run. */
  readonly onProgress?: (finished: number, outcome: Outcome) => void;
  /** Per-request bound; a request still open after it counts as aborted. @default 15000 */
  readonly timeoutMs?: number;
  /** Checked before each new request: true ends the run early (`total` stays the upper bound). */
  readonly stop?: () => boolean;
}

/** Sends up to `total` requests, `concurrency` at a time, each on a fresh connection; returns every outcome in order. */
export async function runLoad(options: LoadOptions): Promise<readonly Outcome[]> {
  const outcomes: Outcome[] = [];
  let next = 0;
  let finished = 0;
  const worker = async (): Promise<void> => {
    while (next < options.total && options.stop?.() !== true) {
      const index = next++;
      const outcome = await sendOne(options, options.request(index));
      outcomes[index] = outcome;
      finished += 1;
      options.onProgress?.(finished, outcome);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, () => worker()));
  return outcomes;
}

function sendOne(options: LoadOptions, load: LoadRequest): Promise<Outcome> {
  return new Promise<Outcome>((resolve) => {
    let secured = false;
    let certificate = '';
    let settled = false;
    const settle = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: options.port,
        method: 'POST',
        path: load.path,
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(load.body), connection: 'close' },
        ...(options.ca === undefined ? { rejectUnauthorized: false } : { ca: options.ca, servername: 'localhost' }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (error) => {
          settle({ kind: 'aborted', detail: `response broke off: ${error.message}` });
        });
        res.on('end', () => {
          if (!res.complete) {
            settle({ kind: 'aborted', detail: 'response incomplete' });
            return;
          }
          const problem = load.check(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'));
          settle(
            problem === undefined
              ? { kind: 'answered', certificate }
              : { kind: 'wrong', detail: problem },
          );
        });
      },
    );
    req.on('socket', (socket) => {
      const tls = socket as TLSSocket;
      tls.once('secureConnect', () => {
        secured = true;
        certificate = tls.getPeerCertificate().fingerprint256;
      });
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      const code = error.code ?? error.message;
      if (secured) settle({ kind: 'aborted', detail: `${code} after the TLS handshake` });
      else if (/CERT|certificate|SSL|TLS|alert|handshake/i.test(`${code} ${error.message}`)) settle({ kind: 'handshake-failed', detail: `${code}: ${error.message}` });
      else settle({ kind: 'refused', code });
    });
    const timer = setTimeout(() => {
      settle({ kind: 'aborted', detail: `no answer within ${String(options.timeoutMs ?? 15_000)} ms` });
      req.destroy();
    }, options.timeoutMs ?? 15_000);
    req.end(load.body);
  });
}

/** Counts outcomes by kind. */
export function tally(outcomes: readonly Outcome[]): Readonly<Record<Outcome['kind'], number>> {
  const counts = { answered: 0, refused: 0, aborted: 0, 'handshake-failed': 0, wrong: 0 };
  for (const o of outcomes) counts[o.kind] += 1;
  return counts;
}
