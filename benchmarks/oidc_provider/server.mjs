// panva's oidc-provider as the PSC benchmark's anchor (benchmarks/peer.py starts it, reads the one JSON line
// it prints, and stops it). Over HTTPS on 127.0.0.1 with the certificate it is handed, one confidential
// client (client_secret_basic, PKCE required), RS256 id_tokens signed with a fresh 2048-bit key, and a
// one-form login as PSC's national id form is: POST /interaction/:uid/login {login} finishes the login
// and grants the requested scope, so the browser goes straight back to the redirect_uri with the code.
// Environment: BENCH_CERT, BENCH_KEY (PEM files), BENCH_CLIENT_ID, BENCH_CLIENT_SECRET, BENCH_REDIRECT.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import Provider from 'oidc-provider';

const env = (name) => {
  const value = process.env[name];
  if (!value) { console.error(`${name} is not set`); process.exit(2); }
  return value;
};
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench', use: 'sig', alg: 'RS256' };
const server = createServer({ cert: readFileSync(env('BENCH_CERT')), key: readFileSync(env('BENCH_KEY')) });
server.listen(0, '127.0.0.1', () => {
  const issuer = `https://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: env('BENCH_CLIENT_ID'), client_secret: env('BENCH_CLIENT_SECRET'),
      redirect_uris: [env('BENCH_REDIRECT')], grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic',
    }],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    claims: { openid: ['sub'], profile: ['name'], email: ['email'] },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: (ctx, sub) => ({
      accountId: sub, claims: () => ({ sub, name: 'ALAIN', email: `${sub}@cabinet.test` }),
    }),
  });
  const oidc = provider.callback();
  server.on('request', async (req, res) => {
    if (!req.url.startsWith('/interaction/')) return oidc(req, res);
    try {
      const details = await provider.interactionDetails(req, res);
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return res.end(`<form method="post" action="/interaction/${details.uid}/login">`
          + '<input name="login"><button>Se connecter</button></form>');
      }
      const chunks = [];
      for await (const chunk of req) chunks.push(chunk);
      const login = new URLSearchParams(Buffer.concat(chunks).toString()).get('login');
      if (!login) { res.writeHead(400); return res.end('login missing'); }
      const grant = new provider.Grant({ accountId: login, clientId: details.params.client_id });
      grant.addOIDCScope(details.params.scope);
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, { login: { accountId: login }, consent: { grantId } },
        { mergeWithLastSubmission: false });
    } catch (error) {
      res.writeHead(500); res.end(String(error));
    }
  });
  console.log(JSON.stringify({ issuer }));
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
