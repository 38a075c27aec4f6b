// A Pro Santé Connect look-alike for the tests and the demo, on oidc-provider 8.x.
//
//     node provider.mjs CONFIG.json
//
// CONFIG (written by dev/psc.py): host, port, issuer, tls {cert, key}, client {id, secret,
// redirect_uris}, mtls {port, url, ca, client_id, subject_dn}, ttl {access, refresh,
// id_token}, signing_key (PEM file), accounts {login: claims}, cookie_keys, ciba {interval,
// expires_in}. Dev-only: the sign-in form takes any known login without a password, and may
// ask for another acr than eidas1 so that refusals can be tested; a "phone" page approves or
// denies backchannel (CIBA) requests.
import fs from 'node:fs';
import https from 'node:https';
import querystring from 'node:querystring';
import { createPrivateKey, randomUUID, X509Certificate } from 'node:crypto';

import Provider, { errors } from 'oidc-provider';

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
  if (practitioners.has(login)) return practitioners.get(login);
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

// -- CIBA (backchannel sign-in approved on the phone), poll mode as PSC runs it -----------
//
// login_hint is the national id (SubjectNameID): the demo accounts', or a practitioner the
// tests register (POST /dev/practitioners) for a fresh mailbox. Each request waits on the
// dev "phone" (GET /dev/phone) until someone approves or denies it there.
const CIBA_GRANT = 'urn:openid:params:grant-type:ciba';
const cibaSettings = { interval: 5, expires_in: 120, ...(config.ciba ?? {}) };
// national id -> claims, registered at run time (tests: one per fresh mailbox).
const practitioners = new Map();
// phone id -> { authReqId, accountId, nationalId, bindingMessage, state, polls, lastPoll,
// interval }. The phone knows requests by an id of its own, never by their auth_req_id.
const phoneRequests = new Map();

function accountOfNationalId(nationalId) {
  if (practitioners.has(nationalId)) return nationalId;
  return Object.keys(config.accounts).find(
    (login) => config.accounts[login].SubjectNameID === nationalId,
  );
}

function phoneRequestOf(authReqId) {
  return [...phoneRequests.values()].find((entry) => entry.authReqId === authReqId);
}

const ciba = {
  enabled: true,
  deliveryModes: ['poll'],
  processLoginHint: async (ctx, loginHint) => accountOfNationalId(String(loginHint)),
  // The code both screens show: short, plain characters (PSC's e-CPS app displays it).
  validateBindingMessage: async (ctx, message) => {
    if (message === undefined || !/^[A-Za-z0-9-]{1,20}$/.test(message)) {
      throw new errors.InvalidBindingMessage('binding_message: 1 to 20 letters, digits or -');
    }
  },
  validateRequestContext: async () => {},
  verifyUserCode: async () => {},
  triggerAuthenticationDevice: async (ctx, request, account) => {
    const id = randomUUID();
    phoneRequests.set(id, {
      id,
      authReqId: request.jti,
      accountId: account.accountId,
      nationalId: String(ctx.oidc.params.login_hint),
      bindingMessage: String(ctx.oidc.params.binding_message ?? ''),
      state: 'pending',
      polls: 0,
      lastPoll: 0,
      interval: cibaIntervalOf(account.accountId),
      expiresAt: Date.now() + request.expiration * 1000,
    });
  },
};

// A test practitioner may carry ciba_expires_in and ciba_interval: its requests expire
// that fast, and may be polled that often.
function cibaRequestTTL(ctx, request) {
  return claimsOf(request.accountId)?.ciba_expires_in ?? cibaSettings.expires_in;
}

function cibaIntervalOf(accountId) {
  return claimsOf(accountId)?.ciba_interval ?? cibaSettings.interval;
}

// The token endpoint's answer to a CIBA poll: counted per request (tests check that the
// webmail does not hammer it), and slow_down for a client polling faster than its interval
// (CIBA Core 1.0 section 11: the interval then grows by 5 seconds).
async function cibaPolls(ctx, next) {
  await next();
  if (ctx.oidc?.route === 'backchannel_authentication' && ctx.status === 200) {
    ctx.body = { ...ctx.body, interval: cibaIntervalOf(ctx.oidc.account?.accountId) };
    return;
  }
  if (ctx.oidc?.route !== 'token' || ctx.oidc.params?.grant_type !== CIBA_GRANT) return;
  const entry = phoneRequestOf(String(ctx.oidc.params.auth_req_id));
  if (!entry) return;
  const now = Date.now();
  const tooSoon = entry.polls > 0 && now - entry.lastPoll < entry.interval * 1000;
  entry.polls += 1;
  entry.lastPoll = now;
  if (tooSoon && ctx.body?.error === 'authorization_pending') {
    entry.interval += 5;
    ctx.body = { error: 'slow_down', error_description: 'polling faster than the interval' };
  }
  if (ctx.status === 200) entry.state = 'consumed';
}

async function answerPhone(entry, approve, acr) {
  if (entry.state !== 'pending') throw new Error(`request already ${entry.state}`);
  if (approve) {
    const grant = new provider.Grant({ accountId: entry.accountId, clientId: config.client.id });
    grant.addOIDCScope('openid scope_all');
    await grant.save();
    await provider.backchannelResult(entry.authReqId, grant, {
      acr, amr: ['mfa'], authTime: Math.floor(Date.now() / 1000),
    });
  } else {
    await provider.backchannelResult(entry.authReqId, new errors.AccessDenied('refused on the phone'));
  }
  entry.state = approve ? 'approved' : 'denied';
}

function phoneJson(entry) {
  const {
    id, nationalId, bindingMessage, state, polls, interval,
  } = entry;
  const expired = state === 'pending' && Date.now() > entry.expiresAt;
  return {
    id, national_id: nationalId, binding_message: bindingMessage,
    state: expired ? 'expired' : state, polls, interval,
  };
}

function sendPhone(res) {
  const rows = [...phoneRequests.values()].map(phoneJson).filter((r) => r.state === 'pending');
  const items = rows.map((r) => `<li><p>Demande de connexion pour ${escapeHtml(r.national_id)}
<br>Code : <strong class="binding">${escapeHtml(r.binding_message)}</strong></p>
<form method="post" action="/dev/phone/${escapeHtml(r.id)}/approve"><button>Approuver</button></form>
<form method="post" action="/dev/phone/${escapeHtml(r.id)}/deny"><button>Refuser</button></form></li>`);
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html lang="fr"><meta name="viewport" content="width=device-width">
<title>e-CPS (démo)</title><h1>e-CPS (démo)</h1>
${items.length ? `<ul>${items.join('')}</ul>` : '<p id="empty">Aucune demande en attente.</p>'}
<p><a href="/dev/phone">Actualiser</a></p></html>`);
}

function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

// The dev phone: GET /dev/phone (HTML, or JSON for the tests), POST
// /dev/phone/<id>/approve|deny (form field acr: eidas1 unless a test asks otherwise), and
// POST /dev/practitioners {national_id, email[, ciba_expires_in, ciba_interval]} for the
// tests.
async function devPhone(req, res) {
  const wantsJson = (req.headers.accept ?? '').includes('application/json');
  const path = req.url.split('?')[0];
  if (req.method === 'GET' && path === '/dev/phone') {
    if (wantsJson) return sendJson(res, 200, [...phoneRequests.values()].map(phoneJson));
    return sendPhone(res);
  }
  if (req.method === 'POST' && path === '/dev/practitioners') {
    const form = await readForm(req);
    const nationalId = String(form.national_id ?? '');
    const email = String(form.email ?? '');
    if (!/^8\d{11}$/.test(nationalId) || !/^[a-z0-9._-]+@[a-z0-9.-]+$/.test(email)) {
      return sendJson(res, 400, { error: 'national_id (8 + 11 digits) and email required' });
    }
    practitioners.set(nationalId, {
      SubjectNameID: nationalId,
      given_name: 'Dominique',
      family_name: email.split('@')[0].toUpperCase(),
      SubjectRefPro: { exercices: [{ codeProfession: '60' }] },
      email,
      ...(form.ciba_expires_in ? { ciba_expires_in: Number(form.ciba_expires_in) } : {}),
      ...(form.ciba_interval ? { ciba_interval: Number(form.ciba_interval) } : {}),
    });
    return sendJson(res, 201, { national_id: nationalId });
  }
  const answer = /^\/dev\/phone\/([0-9a-f-]{36})\/(approve|deny)$/.exec(path);
  if (req.method === 'POST' && answer && phoneRequests.has(answer[1])) {
    const form = await readForm(req);
    const entry = phoneRequests.get(answer[1]);
    try {
      await answerPhone(entry, answer[2] === 'approve', String(form.acr || 'eidas1'));
    } catch (error) {
      return sendJson(res, 409, { error: error.message });
    }
    if (wantsJson) return sendJson(res, 200, phoneJson(entry));
    res.writeHead(303, { location: '/dev/phone' });
    return res.end();
  }
  return sendJson(res, 404, { error: 'no such phone request' });
}

const client = {
  client_id: config.client.id,
  client_secret: config.client.secret,
  redirect_uris: config.client.redirect_uris,
  post_logout_redirect_uris: config.client.post_logout_redirect_uris ?? [],
  grant_types: ['authorization_code', 'refresh_token', CIBA_GRANT],
  response_types: ['code'],
  backchannel_token_delivery_mode: 'poll',
  token_endpoint_auth_method: 'client_secret_basic',
  introspection_endpoint_auth_method: 'client_secret_basic',
};


// -- Mutual TLS (RFC 8705 tls_client_auth), as inside PSC's trust space -------------------
// The webmail's client once more, known by its certificate instead of a secret. Every
// listener asks for a client certificate without requiring one (the browser has none);
// the TLS layer checks it against the stack's CA, the hooks below decide.
const mtlsClient = {
  ...client,
  client_id: config.mtls.client_id,
  client_secret: undefined,
  token_endpoint_auth_method: 'tls_client_auth',
  introspection_endpoint_auth_method: 'tls_client_auth',
  revocation_endpoint_auth_method: 'tls_client_auth',
  tls_client_auth_subject_dn: config.mtls.subject_dn,
};

// "CN=a,O=b" (RFC 4514, as registered) and Node's "O=b\nCN=a" name the same subject.
function sameDn(a, b) {
  const parts = (dn, separator) => dn.split(separator).map((p) => p.trim()).sort().join('\n');
  return parts(a, ',') === parts(b, '\n');
}

const mtlsFeature = {
  enabled: true,
  tlsClientAuth: true,
  certificateBoundAccessTokens: false,
  getCertificate(ctx) {
    const peer = ctx.socket.getPeerCertificate?.();
    return peer?.raw ? new X509Certificate(peer.raw) : undefined;
  },
  // Verified by OpenSSL against the stack's CA (the listeners' `ca`), dates included.
  certificateAuthorized: (ctx) => ctx.socket.authorized === true,
  certificateSubjectMatches(ctx, property, expected) {
    const cert = mtlsFeature.getCertificate(ctx);
    if (!cert) return false;
    if (property === 'tls_client_auth_subject_dn') return sameDn(expected, cert.subject);
    if (property === 'tls_client_auth_san_dns') {
      return (cert.subjectAltName ?? '').split(', ').includes(`DNS:${expected}`);
    }
    return false;
  },
};

// RFC 8705 section 5: where a client using its certificate calls the back-channel endpoints.
const mtlsAliases = Object.fromEntries(
  [['token_endpoint', '/token'], ['userinfo_endpoint', '/me'],
    ['introspection_endpoint', '/token/introspection'],
    ['revocation_endpoint', '/token/revocation']].map(([name, path]) => [name, config.mtls.url + path]),
);

const tlsOptions = {
  requestCert: true, rejectUnauthorized: false, ca: fs.readFileSync(config.mtls.ca),
};
// -- end of mutual TLS ---------------------------------------------------------------------

const provider = new Provider(config.issuer, {
  // The same client twice: "<id>-jwt" gets its userinfo as a signed JWT, as PSC may answer.
  clients: [
    client,
    { ...client, client_id: `${client.client_id}-jwt`, userinfo_signed_response_alg: 'RS256' },
    mtlsClient,
  ],
  clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'tls_client_auth'],
  discovery: { mtls_endpoint_aliases: mtlsAliases },
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
    mTLS: mtlsFeature,
    ciba,
  },
  ttl: {
    AccessToken: config.ttl.access,
    RefreshToken: config.ttl.refresh,
    IdToken: config.ttl.id_token,
    AuthorizationCode: 60,
    Interaction: 600,
    Session: 4 * 3600,
    Grant: 4 * 3600,
    BackchannelAuthenticationRequest: cibaRequestTTL,
  },
  // PSC issues a refresh token without offline_access.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  // Like PSC: each refresh gives a new refresh token, and the old one used again is taken
  // for a replay, which revokes the whole grant: concurrent refreshes end the session.
  rotateRefreshToken: true,
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
provider.use(cibaPolls);

// -- Grants counted for the tests: GET /dev/grants?account=ID ------------------------------
// {"refresh_token@main": 2, "authorization_code@mtls": 1, ...}: what was issued to whom, and
// on which listener (the mTLS aliases' or the main one).
const grants = new Map();
provider.on('grant.success', (ctx) => {
  const account = ctx.oidc.account?.accountId ?? ctx.oidc.entities?.RefreshToken?.accountId;
  const listener = ctx.socket.localPort === config.mtls.port ? 'mtls' : 'main';
  const key = `${ctx.oidc.params.grant_type}@${listener}`;
  const counts = grants.get(account) ?? {};
  counts[key] = (counts[key] ?? 0) + 1;
  grants.set(account, counts);
});

function sendGrants(req, res) {
  const account = new URL(req.url, config.issuer).searchParams.get('account');
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(grants.get(account) ?? {}));
}

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
const serverOptions = {
  cert: fs.readFileSync(config.tls.cert), key: fs.readFileSync(config.tls.key), ...tlsOptions,
};
function handle(req, res) {
  // PSC publishes its discovery document at a non-standard path too.
  if (req.url === '/.well-known/wallet-openid-configuration') {
    req.url = '/.well-known/openid-configuration';
  }
  if (req.url.startsWith('/dev/grants?')) return sendGrants(req, res);
  if (req.url.startsWith('/dev/')) {
    devPhone(req, res).catch((error) => sendJson(res, 400, { error: error.message }));
    return;
  }
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((error) => {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`interaction failed: ${error.message}`);
    });
    return;
  }
  callback(req, res);
}
const server = https.createServer(serverOptions, handle);
server.listen(config.port, config.host, () => {
  console.log(`listening on ${config.host}:${config.port}`);
});
const mtlsServer = https.createServer(serverOptions, handle);
mtlsServer.listen(config.mtls.port, config.host, () => {
  console.log(`mTLS aliases on ${config.host}:${config.mtls.port}`);
});
process.on('SIGTERM', () => {
  mtlsServer.close();
  server.close(() => process.exit(0));
});
