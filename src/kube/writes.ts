// Creates or replaces one object by name, and posts Events: the writes of background audits.
import type { KubeRequest } from './api.ts';

/** How a write ended: done, or why not (one line, never the object). */
export type WriteOutcome = { readonly ok: true } | { readonly ok: false; readonly problem: string };

/**
 * Creates `object` at `collection/name`, or replaces what is there with it (the `resourceVersion`
 * read is sent back, so a write that races another is refused rather than lost silently).
 */
export async function putObject(request: KubeRequest, collection: string, name: string, object: Record<string, unknown>, signal: AbortSignal): Promise<WriteOutcome> {
  const path = `${collection}/${encodeURIComponent(name)}`;
  const current = await request('GET', path, signal);
  if (current.status === 404) return outcome('create', await request('POST', collection, signal, { body: object }), 201);
  if (current.status !== 200 || !('body' in current)) return outcome('read', current, 200);
  const metadata = { ...(object.metadata as Record<string, unknown> | undefined), resourceVersion: (current.body as { metadata?: { resourceVersion?: string } } | undefined)?.metadata?.resourceVersion };
  return outcome('replace', await request('PUT', path, signal, { body: { ...object, metadata } }), 200);
}

/** POSTs one object to `collection` (an Event). */
export async function postObject(request: KubeRequest, collection: string, object: Record<string, unknown>, signal: AbortSignal): Promise<WriteOutcome> {
  return outcome('create', await request('POST', collection, signal, { body: object }), 201);
}

function outcome(what: string, answer: Awaited<ReturnType<KubeRequest>>, expected: number): WriteOutcome {
  if (answer.status === expected) return { ok: true };
  if (answer.status === 'timeout') return { ok: false, problem: `cannot ${what}: Kubernetes API too slow` };
  if (answer.status === 'network') return { ok: false, problem: `cannot ${what}: Kubernetes API: ${answer.reason}` };
  const hint = answer.status === 403 ? ' Forbidden (RBAC)' : answer.status === 404 ? ' Not Found (is the CRD installed?)' : '';
  return { ok: false, problem: `cannot ${what}: HTTP ${String(answer.status)}${hint}` };
}
