// A Pro Santé Connect look-alike for the tests and the demo, on oidc-provider 8.x.
//
//     node provider.mjs CONFIG.json
//
// CONFIG (written by dev/psc.py): host, port, issuer, tls {cert, key}, client {id, secret,
// redirect_uris}, ttl {access, refresh, id_token}, signing_key (PEM file), accounts
// {login: claims}, cookie_keys. Dev-only: the sign-in form takes any known login without
// a password, and may ask for another acr than eidas1 so that refusals can be tested.
import fs from 'node:fs';
import https from 'node:https';
import querystring from 'node:querystring';
import { createPrivateKey } from 'node:crypto';

import Provider from 'oidc-provider';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));

// PSC's own claims, all released by its one scope.
const PSC_CLAIMS = [
  'SubjectNameID', 'given_name', 'family_name', 'preferred_username', 'SubjectRole',
  'SubjectRefPro', 'email',
];

// The demo practitioners, and (for the tests: a fresh mailbox each) any address typed as the
// login, which becomes a practitioner of that mailbox.
function claimsOf(login) {
  if (config.accounts[login]) return config.accounts[login];
  if (!/^[a-z0-9._-]+@[a-z0-9.-]+$/.test(login)) return undefined;
  return {
    SubjectNameID: `8${login.length}`.padEnd(12, '0'),
    given_name: 'Dominique',
    family_name: login.split('@')[0].toUpperCase(),
    SubjectRefPro: { exercices: [{ codeProfession: '60' }] },
    email: login,
  };
}

function signingKey() {
  const jwk = createPrivateKey(fs.readFileSync(config.signing_key)).export({ format: 'jwk' });
  return { ...jwk, kid: 'psc-dev', alg: 'RS256', use: 'sig' };
}

const client = {
  client_id: config.client.id,
  client_secret: config.client.secret,
  redirect_uris: config.client.redirect_uris,
  post_logout_redirect_uris: config.client.post_logout_redirect_uris ?? [],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
  introspection_endpoint_auth_method: 'client_secret_basic',
};

const provider = new Provider(config.issuer, {
  // The same client twice: "<id>-jwt" gets its userinfo as a signed JWT, as PSC may answer.
  clients: [
    client,
    { ...client, client_id: `${client.client_id}-jwt`, userinfo_signed_response_alg: 'RS256' },
  ],
  jwks: { keys: [signingKey()] },
  cookies: { keys: config.cookie_keys },
  acrValues: ['eidas1'],
  scopes: ['openid', 'scope_all', 'offline_access'],
  claims: { openid: ['sub'], scope_all: PSC_CLAIMS, acr: null },
  pkce: { methods: ['S256'], required: () => true },
  features: {
    devInteractions: { enabled: false },
    introspection: { enabled: true },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    jwtUserinfo: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  ttl: {
    AccessToken: config.ttl.access,
    RefreshToken: config.ttl.refresh,
    IdToken: config.ttl.id_token,
    AuthorizationCode: 60,
    Interaction: 600,
    Session: 4 * 3600,
    Grant: 4 * 3600,
  },
  // PSC issues a refresh token without offline_access.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  // Like PSC's Keycloak: a refresh token is not rotated, so concurrent refreshes are harmless.
  rotateRefreshToken: false,
  // Introspection tells Dovecot whose mailbox an access token opens.
  extraTokenClaims: async (ctx, token) => {
    const claims = claimsOf(token.accountId);
    // token_email: an account whose tokens name another mailbox than its email claim,
    // as a misconfigured operator would, so that a test sees the mail server refuse them.
    const email = claims?.token_email ?? claims?.email;
    return email ? { email } : undefined;
  },
  findAccount: async (ctx, id) => {
    const claims = claimsOf(id);
    if (!claims) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...claims }) };
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  renderError: async (ctx, out) => {
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = `${out.error}: ${out.error_description ?? ''}`;
  },
});
provider.proxy = false;

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => { body += chunk; if (body.length > 10000) req.destroy(); });
    req.on('end', () => resolve(querystring.parse(body)));
    req.on('error', reject);
  });
}

function sendForm(res, uid, message = '') {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html lang="fr"><title>Pro Santé Connect (démo)</title>
<h1>Pro Santé Connect (démo)</h1><p id="error">${escapeHtml(message)}</p>
<form method="post" action="/interaction/${escapeHtml(uid)}">
<label>Identifiant e-CPS <input name="login" autofocus></label>
<input type="hidden" name="acr" value="eidas1">
<button type="submit">Valider</button></form></html>`);
}

// One step does both login and consent: a practitioner approves in the e-CPS app.
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'GET') return sendForm(res, details.uid);
  const form = await readForm(req);
  const accountId = String(form.login ?? '');
  if (!claimsOf(accountId)) return sendForm(res, details.uid, 'Identifiant inconnu');
  const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(String(details.params.scope));
  const grantId = await grant.save();
  const result = {
    login: { accountId, acr: String(form.acr || 'eidas1'), amr: ['mfa'] },
    consent: { grantId },
  };
  return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

const callback = provider.callback();
const server = https.createServer(
  { cert: fs.readFileSync(config.tls.cert), key: fs.readFileSync(config.tls.key) },
  (req, res) => {
    // PSC publishes its discovery document at a non-standard path too.
    if (req.url === '/.well-known/wallet-openid-configuration') {
      req.url = '/.well-known/openid-configuration';
    }
    if (req.url.startsWith('/interaction/')) {
      interaction(req, res).catch((error) => {
        res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`interaction failed: ${error.message}`);
      });
      return;
    }
    callback(req, res);
  },
);
server.listen(config.port, config.host, () => {
  console.log(`listening on ${config.host}:${config.port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
