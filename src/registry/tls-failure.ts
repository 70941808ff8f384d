// TLS failures in words: one human cause per failure and the fix in the caller's words, never OpenSSL's text.
import ipaddr from 'ipaddr.js';
import { registryApiHost } from '../reference/index.ts';
import type { TrustHints } from './address.ts';
import { codeInChain, findInChain, messageOf } from './cause.ts';

/** Verification failures whose fix is to trust the CA that signed the certificate. */
const UNKNOWN_AUTHORITY_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_UNTRUSTED',
]);

/** Every other certificate verification code OpenSSL reports through Node (`X509_V_ERR_*` without the prefix). */
const OTHER_CERTIFICATE_CODES: ReadonlySet<string> = new Set([
  'CERT_SIGNATURE_FAILURE',
  'CERT_REVOKED',
  'CERT_REJECTED',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'HOSTNAME_MISMATCH',
]);

/** Certificate failures worded on their own below. */
const CERTIFICATE_OWN_WORDS: ReadonlySet<string> = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID']);

/** What OpenSSL says when the peer answered a ClientHello in plain text (an HTTP response, say). */
const PLAIN_TEXT_CODES: ReadonlySet<string> = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_HTTP_REQUEST']);
const PLAIN_TEXT_REASONS = /wrong version number|packet length too long|http request/i;

/** Handshake failures in words, by OpenSSL reason; the first match wins. */
const HANDSHAKE_WORDS: ReadonlyArray<readonly [RegExp, string]> = [
  [/alert handshake failure|no shared cipher|no suitable/i, 'the server refused it: no cipher in common, or it wants a client certificate'],
  [/alert protocol version|unsupported protocol|no protocols available|version too low/i, 'no TLS version in common with the server'],
  [/certificate required|alert bad certificate|alert unknown ca|alert certificate unknown/i, 'the server wants a client certificate, which tagpin does not send'],
  [/unrecognized name/i, 'the server does not know the name it was asked for'],
  [/alert internal error/i, 'the server reported an internal error'],
  [/alert access denied/i, 'the server refused the connection'],
  [/unexpected eof/i, 'the server closed the connection during the handshake'],
  [/key too small|md too weak|too weak/i, "the server's key or signature is too weak"],
];

/** The fields Node puts on a hostname mismatch. */
interface MismatchError {
  readonly host?: string;
  readonly cert?: { readonly subjectaltname?: string; readonly subject?: { readonly CN?: string } };
}

/** True when `error` says the peer answered TLS in plain text: it speaks plain HTTP. */
export function isPlainTextAnswer(error: unknown): boolean {
  const code = codeInChain(error);
  if (code !== undefined && PLAIN_TEXT_CODES.has(code)) return true;
  return code !== undefined && code.startsWith('ERR_SSL') && PLAIN_TEXT_REASONS.test(reasonOf(error, code));
}

/** True when `error` is a failure to verify a certificate (the peer speaks TLS, but is not trusted). */
export function isCertificateFailure(error: unknown): boolean {
  const code = codeInChain(error);
  return code !== undefined && (UNKNOWN_AUTHORITY_CODES.has(code) || OTHER_CERTIFICATE_CODES.has(code) || CERTIFICATE_OWN_WORDS.has(code));
}

/**
 * One line for a TLS failure talking to `host` (host[:port] as connected) while looking up an image on
 * `registry`; undefined when `error` is not a TLS failure.
 */
export function describeTlsFailure(error: unknown, host: string, registry: string, trust: TrustHints): string | undefined {
  const code = codeInChain(error);
  if (code === undefined) return undefined;
  const certificate = `the certificate of ${host}`;
  if (isPlainTextAnswer(error)) {
    return isRegistryHost(host, registry)
      ? `${host} speaks plain HTTP; ${trust.plainHttp(registry)}`
      : `TLS handshake with ${host} failed (it answers in plain HTTP)`;
  }
  if (UNKNOWN_AUTHORITY_CODES.has(code)) return `${certificate} is signed by an unknown authority; ${trust.trustCa}`;
  switch (code) {
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return `${certificate} is self-signed; ${trust.trustCa}`;
    case 'CERT_HAS_EXPIRED':
      return `${certificate} has expired; renew it (or check this machine's clock)`;
    case 'CERT_NOT_YET_VALID':
      return `${certificate} is not valid yet; check this machine's clock (or wait until it is)`;
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return describeMismatch(error, certificate, host);
    case 'ERR_TLS_HANDSHAKE_TIMEOUT':
      return `TLS handshake with ${host} failed (it timed out)`;
  }
  if (OTHER_CERTIFICATE_CODES.has(code)) return `${certificate} is not trusted (${messageOf(error, code)}); ${trust.trustCa}`;
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || code === 'EPROTO') {
    return `TLS handshake with ${host} failed (${handshakeWords(reasonOf(error, code))})`;
  }
  return undefined;
}

/** `the certificate of HOST is for a.example, b.example, not c.example; …`. */
function describeMismatch(error: unknown, certificate: string, host: string): string {
  const found = findInChain(error, (e) => (e as { code?: unknown }).code === 'ERR_TLS_CERT_ALTNAME_INVALID') as MismatchError | undefined;
  const names = certificateNames(found?.cert);
  const asked = (found?.host ?? host).replace(/\.$/, '');
  const covers = names.length === 0 ? 'no name at all' : names.length <= 4 ? names.join(', ') : `${names.slice(0, 4).join(', ')} and ${names.length - 4} more`;
  return `${certificate} is for ${covers}, not ${asked}; use a name it covers, or reissue it`;
}

/** The DNS and IP names of a certificate (its subject CN when it has none). */
function certificateNames(cert: MismatchError['cert']): readonly string[] {
  const names = (cert?.subjectaltname ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .flatMap((entry) => {
      if (entry.startsWith('DNS:')) return [entry.slice('DNS:'.length)];
      if (entry.startsWith('IP Address:')) {
        const address = entry.slice('IP Address:'.length);
        return [ipaddr.isValid(address) ? ipaddr.parse(address).toString() : address];
      }
      return [];
    });
  const commonName = cert?.subject?.CN;
  // The certificate is the peer's to write: keep its names printable and short.
  const printable = (name: string): string => name.replace(/[\p{Cc}\p{Cf}\s]+/gu, '').slice(0, 100);
  return (names.length === 0 && commonName !== undefined ? [commonName] : names).map(printable);
}

/** OpenSSL's reason (`wrong version number`), never its whole `error:0A…:SSL routines:…` text. */
function reasonOf(error: unknown, code: string): string {
  const link = findInChain(error, (e) => (e as { code?: unknown }).code === code) as { reason?: unknown } | undefined;
  if (typeof link?.reason === 'string') return link.reason;
  // Without a reason field the message has the form `…:SSL routines:FUNCTION:REASON:FILE:LINE:`.
  const parts = messageOf(error, code).split(':');
  const at = parts.indexOf('SSL routines');
  return at >= 0 ? (parts[at + 2] ?? '') : '';
}

function handshakeWords(reason: string): string {
  for (const [pattern, words] of HANDSHAKE_WORDS) if (pattern.test(reason)) return words;
  const alert = /alert (.+)$/i.exec(reason);
  if (alert?.[1] !== undefined) return `the server sent the alert "${alert[1]}"`;
  return reason === '' ? 'a protocol error' : `a protocol error: ${reason}`;
}

/** True when `host` (as connected, default port dropped) is the registry's own API host. */
function isRegistryHost(host: string, registry: string): boolean {
  try {
    return new URL(`https://${host}`).host === new URL(`https://${registryApiHost(registry)}`).host;
  } catch {
    return false;
  }
}
