// A Pro Santé Connect look-alike for the tests and the demo, on oidc-provider 8.x.
//
//     node provider.mjs CONFIG.json
//
// CONFIG (written by dev/psc.py): host, port, issuer, tls {cert, key}, client {id, secret,
// redirect_uris}, ttl {access, refresh, id_token}, signing_key (PEM file), accounts
// {login: claims}, cookie_keys, ciba {interval, expires_in}. Dev-only: the sign-in form
// takes any known login without a password, and may ask for another acr than eidas1 so that
// refusals can be tested; a "phone" page approves or denies backchannel (CIBA) requests.
import fs from 'node:fs';
import https from 'node:https';
import querystring from 'node:querystring';
import { createPrivateKey, randomUUID } from 'node:crypto';

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
provider.use(cibaPolls);

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
  },
);
server.listen(config.port, config.host, () => {
  console.log(`listening on ${config.host}:${config.port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
