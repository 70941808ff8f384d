// A docker token-protocol issuer (HTTPS, in the test process) whose JWTs CNCF Distribution accepts.
import { X509Certificate, createPrivateKey, randomBytes, randomUUID, sign, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Pki } from './pki.ts';
import { listen } from './ports.ts';

/** One grant in a token's `access` claim. */
export interface TokenAccess {
  readonly type: string;
  readonly name: string;
  readonly actions: readonly string[];
}

/** A request the issuer served, as tests assert on it. */
export interface TokenRequest {
  readonly method: string;
  /** The scopes asked for, space-separated in request order ("" when none). */
  readonly scope: string;
  /** Whether the client presented credentials (Basic, refresh token or password), valid or not. */
  readonly authenticated: boolean;
}

/** How the issuer is set up. */
export interface TokenIssuerOptions {
  /** Signs the issuer's serving certificate and its token-signing certificate. */
  readonly pki: Pki;
  /** The `iss` claim; the registry's `auth.token.issuer` must equal it. */
  readonly issuer: string;
  /** The user granted everything it asks for; anyone else gets anonymous grants only. */
  readonly username: string;
  readonly password: string;
  /** The identity token accepted by `POST … grant_type=refresh_token` and handed out offline. */
  readonly refreshToken: string;
}

/** A running issuer. */
export interface TokenIssuer {
  /** "https://127.0.0.1:PORT/token": the `auth.token.realm` for the registry. */
  readonly realm: string;
  /** Requests served so far (tokens minted with `mint` are not requests). */
  requests(): readonly TokenRequest[];
  /** Signs a token directly, for the harness's own calls, without counting a request. */
  mint(subject: string, audience: string, access: readonly TokenAccess[]): string;
  close(): Promise<void>;
}

/** Token lifetime in seconds, as the response's `expires_in` says. */
const lifetime = 300;
const maxBody = 64 * 1024;

/** Anonymous clients may pull repositories under this prefix, and nothing else. */
const publicPrefix = 'public/';

/** Starts the issuer on 127.0.0.1, on a port the system picks. */
export async function startTokenIssuer(options: TokenIssuerOptions): Promise<TokenIssuer> {
  // Several issuers may share one CA directory, so their file names must differ.
  const suffix = randomBytes(4).toString('hex');
  const serving = await options.pki.issue(`token-issuer-${suffix}`, []);
  const signing = await options.pki.issue(`token-signer-${suffix}`, []);
  const signingKey = createPrivateKey(signing.keyPem);
  // Distribution 2.8 verifies the x5c chain against its rootcertbundle, which is our CA.
  const x5c = [new X509Certificate(signing.certPem).raw.toString('base64')];
  const served: TokenRequest[] = [];

  function mint(subject: string, audience: string, access: readonly TokenAccess[]): string {
    return signJwt(signingKey, x5c, {
      iss: options.issuer,
      sub: subject,
      aud: audience,
      ...times(),
      jti: randomUUID(),
      access: access.map((a) => ({ type: a.type, name: a.name, actions: [...a.actions] })),
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://issuer.invalid');
    if (url.pathname !== '/token') return reply(res, 404, { errors: [{ code: 'NOT_FOUND', message: 'only /token is served' }] });
    if (req.method !== 'GET' && req.method !== 'POST') {
      return reply(res, 405, { errors: [{ code: 'UNSUPPORTED', message: 'use GET or POST' }] });
    }

    let params = url.searchParams;
    let credentials: Credentials = readBasic(req.headers.authorization);
    if (req.method === 'POST') {
      params = new URLSearchParams(await readBody(req));
      const form = readForm(params);
      if (form.kind !== 'none') credentials = form;
    }
    const scopes = params.getAll('scope').flatMap((s) => s.split(' ')).filter((s) => s !== '');
    served.push({ method: req.method, scope: scopes.join(' '), authenticated: credentials.kind !== 'none' });

    const valid = isValid(credentials, options);
    if (credentials.kind !== 'none' && !valid) {
      res.setHeader('WWW-Authenticate', 'Basic realm="tagpin-test-issuer"');
      return reply(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'incorrect username, password or refresh token' }] });
    }

    const requested: TokenAccess[] = [];
    for (const scope of scopes) {
      const parsed = parseScope(scope);
      if (parsed === undefined) {
        return reply(res, 400, { errors: [{ code: 'INVALID_SCOPE', message: `scope "${scope}" is not type:name:actions` }] });
      }
      requested.push(parsed);
    }
    const granted = requested.map((a) => grant(a, valid)).filter((a) => a.actions.length > 0);
    const subject = valid ? options.username : '';
    // The audience is the service the client names, as Distribution's reference token server does,
    // so a client that sends the wrong service gets a token the registry refuses.
    const token = mint(subject, params.get('service') ?? '', granted);
    const body: Record<string, unknown> = {
      token,
      access_token: token,
      expires_in: lifetime,
      issued_at: new Date().toISOString(),
    };
    const offline = params.get('offline_token') === 'true' || params.get('access_type') === 'offline';
    if (valid && offline) body.refresh_token = options.refreshToken;
    if (req.method === 'POST') body.scope = scopes.join(' ');
    reply(res, 200, body);
  }

  const server = createServer({ key: serving.keyPem, cert: serving.certPem, minVersion: 'TLSv1.2' }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) reply(res, 400, { errors: [{ code: 'BAD_REQUEST', message: String(error) }] });
      else res.destroy();
    });
  });
  const { port } = await listen(server);

  return {
    realm: `https://127.0.0.1:${String(port)}/token`,
    requests: () => [...served],
    mint,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}

type Credentials =
  | { readonly kind: 'none' }
  | { readonly kind: 'password'; readonly username: string; readonly password: string }
  | { readonly kind: 'refresh'; readonly refreshToken: string };

function readBasic(header: string | undefined): Credentials {
  if (header === undefined) return { kind: 'none' };
  const match = /^basic\s+(\S+)$/i.exec(header.trim());
  // Credentials were sent but cannot be used: they count as wrong ones.
  if (match?.[1] === undefined) return { kind: 'password', username: '', password: '' };
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { kind: 'password', username: decoded, password: '' };
  return { kind: 'password', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function readForm(form: URLSearchParams): Credentials {
  const refreshToken = form.get('refresh_token');
  if (form.get('grant_type') === 'refresh_token' || refreshToken !== null) {
    return { kind: 'refresh', refreshToken: refreshToken ?? '' };
  }
  const username = form.get('username');
  const password = form.get('password');
  if (form.get('grant_type') === 'password' || username !== null || password !== null) {
    return { kind: 'password', username: username ?? '', password: password ?? '' };
  }
  return { kind: 'none' };
}

function isValid(credentials: Credentials, options: TokenIssuerOptions): boolean {
  switch (credentials.kind) {
    case 'none':
      return false;
    case 'password':
      return same(credentials.username, options.username) && same(credentials.password, options.password);
    case 'refresh':
      return same(credentials.refreshToken, options.refreshToken);
  }
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** `type:name:actions`, where the name itself may hold a `:port`, so split at the first and last colon. */
function parseScope(scope: string): TokenAccess | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first || last === scope.length - 1) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope.slice(last + 1).split(','),
  };
}

function grant(asked: TokenAccess, valid: boolean): TokenAccess {
  if (valid) return asked;
  const anonymousPull = asked.type === 'repository' && asked.name.startsWith(publicPrefix);
  return { ...asked, actions: anonymousPull ? asked.actions.filter((a) => a === 'pull') : [] };
}

function times(): { readonly iat: number; readonly nbf: number; readonly exp: number } {
  const now = Math.floor(Date.now() / 1000);
  return { iat: now, nbf: now, exp: now + lifetime };
}

function signJwt(key: KeyObject, x5c: readonly string[], claims: Record<string, unknown>): string {
  const header = { typ: 'JWT', alg: 'ES256', x5c };
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  // JOSE wants the raw r||s form of an ECDSA signature, not DER.
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

function base64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > maxBody) throw new Error(`request body over ${String(maxBody)} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
