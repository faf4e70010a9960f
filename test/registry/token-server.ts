// A minimal token server for distribution's `auth: token:`: checks basic credentials, grants the
// requested repository actions to known users (nothing to anonymous ones), and signs the JWT
// (RS256) with a certificate carried in the `x5c` header, which the registry verifies against
// its rootcertbundle.
import { createSign, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';

export interface TokenServer {
  url: string;
  /** Every token request seen: the scopes asked and the user (or "" for anonymous). */
  requests: { user: string; scopes: string[] }[];
  close(): Promise<void>;
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');

export async function startTokenServer(opts: { cert: string; key: string; issuer: string; service: string; users: Record<string, string>; lifetime?: number }): Promise<TokenServer> {
  const certDer = fs
    .readFileSync(opts.cert, 'utf8')
    .replace(/-----(BEGIN|END) CERTIFICATE-----/g, '')
    .replace(/\s+/g, '');
  const key = fs.readFileSync(opts.key, 'utf8');
  const requests: TokenServer['requests'] = [];
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const scopes = u.searchParams.getAll('scope');
    let user = '';
    const auth = req.headers.authorization;
    if (auth?.startsWith('Basic ')) {
      const [name, ...rest] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
      if (opts.users[name] !== rest.join(':')) {
        res.writeHead(401, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ details: 'incorrect username or password' }));
        requests.push({ user: `!${name}`, scopes });
        return;
      }
      user = name;
    }
    requests.push({ user, scopes });
    const access = user
      ? scopes
          .map((s) => /^repository:([^:]+):(.*)$/.exec(s))
          .filter((m): m is RegExpExecArray => !!m)
          .map((m) => ({ type: 'repository', name: m[1], actions: m[2].split(',') }))
      : [];
    const now = Math.floor(Date.now() / 1000);
    const lifetime = opts.lifetime ?? 300;
    const header = { typ: 'JWT', alg: 'RS256', x5c: [certDer] };
    const claims = { iss: opts.issuer, sub: user, aud: opts.service, exp: now + lifetime, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = createSign('RSA-SHA256').update(signingInput).sign(key);
    const token = `${signingInput}.${b64url(sig)}`;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: lifetime, issued_at: new Date(now * 1000).toISOString() }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/token`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
