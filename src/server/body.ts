// Reads an AdmissionReview body: JSON only, UTF-8, at most BODY_LIMIT_BYTES, without body-parser's
// per-request machinery (content negotiation, decoders, streams of streams) on the hot path.
import type { IncomingMessage } from 'node:http';

/** Largest AdmissionReview accepted; the API server caps request bodies at 3 MiB too. */
export const BODY_LIMIT_BYTES = 3 * 1024 * 1024;

/** The parsed body, or the HTTP error that answers it. */
export type BodyOutcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly status: number; readonly message: string };

/** Whether the request says its body is JSON (`application/json`, any parameters, any case). */
export function isJsonRequest(req: IncomingMessage): boolean {
  return mediaType(req.headers['content-type']) === 'application/json';
}

/**
 * Reads the whole body and parses it as JSON. Any JSON value is parsed, so a body like `null` or `5` is
 * answered "expected a JSON object" by the decoder rather than a misleading syntax error.
 */
export function readJsonBody(req: IncomingMessage): Promise<BodyOutcome> {
  const refused = refusal(req);
  if (refused !== undefined) {
    req.resume();
    return Promise.resolve(refused);
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > BODY_LIMIT_BYTES) tooLarge = true;
      // Past the limit the rest is read and dropped, so the answer reaches a client still sending.
      if (!tooLarge) chunks.push(chunk);
    });
    req.once('end', () => {
      resolve(tooLarge ? TOO_LARGE : parse(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size)));
    });
    req.once('error', () => {
      resolve({ ok: false, status: 400, message: 'request aborted while its body was read' });
    });
  });
}

const TOO_LARGE: BodyOutcome = { ok: false, status: 413, message: 'body exceeds the 3 MiB limit for an AdmissionReview' };

/** What is wrong with the request before a byte of its body is read, if anything. */
function refusal(req: IncomingMessage): BodyOutcome | undefined {
  const length = Number(req.headers['content-length']);
  if (length > BODY_LIMIT_BYTES) return TOO_LARGE;
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding !== 'identity') return { ok: false, status: 415, message: `unsupported content encoding "${encoding}": send the review uncompressed` };
  const charset = parameter(req.headers['content-type'], 'charset');
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    return { ok: false, status: 415, message: `unsupported charset "${charset.toUpperCase()}": an AdmissionReview is UTF-8 JSON` };
  }
  return undefined;
}

function parse(bytes: Buffer): BodyOutcome {
  try {
    return { ok: true, value: JSON.parse(bytes.toString('utf8')) as unknown };
  } catch (error) {
    return { ok: false, status: 400, message: `body is not valid JSON: ${withoutSnippet(error instanceof Error ? error.message : String(error))}` };
  }
}

/**
 * V8 quotes a piece of the body in some parse errors (`Unexpected token 'e', ..."k": env-abc"... is not
 * valid JSON`); that piece may be part of a secret in the object, and the message is logged, so it goes.
 */
function withoutSnippet(message: string): string {
  return message.replace(/, (?:\.\.\.)?"[\s\S]*"(?:\.\.\.)? is not valid JSON$/, '');
}

function mediaType(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const semicolon = header.indexOf(';');
  return (semicolon === -1 ? header : header.slice(0, semicolon)).trim().toLowerCase();
}

function parameter(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';').slice(1)) {
    const equals = part.indexOf('=');
    if (equals !== -1 && part.slice(0, equals).trim().toLowerCase() === name) {
      return part.slice(equals + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
    }
  }
  return undefined;
}
