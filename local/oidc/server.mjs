// The local OpenID Provider: npm `oidc-provider` (a certified implementation)
// configured with the task app's clients, its demo accounts and our own
// sign-in page. Served under `/oidc` so that the edge router can put it on
// the app's own origin.
//
// Settings (environment):
//   OIDC_ISSUER      the issuer as clients see it, e.g. http://127.0.0.1:8080/oidc
//                    (its path must be /oidc)
//   OIDC_PORT        where to listen on OIDC_HOST (default 127.0.0.1)
//   OIDC_STATE_DIR   signing key, cookie secrets and accounts (created on first start)
//   OIDC_WEB_ORIGINS the web app's origins (comma-separated): its redirect targets
//   OIDC_AUDIENCE    the API's audience (default task-api)
//   OIDC_ACCESS_TOKEN_TTL seconds (default 300)

import { createServer } from 'node:http';

import { MemoryAdapter } from './adapter.mjs';
import { loadState, SIGNING_ALG } from './state.mjs';
import { LOGIN_CSS, loginPage, signOutPage, signedOutPage } from './login.mjs';

// oidc-provider says at load that it wants Node.js 22; it runs on Debian's
// 20 (its tests and ours pass there), so that one warning is left out.
const warn = console.warn;
console.warn = (...args) => {
  if (!String(args[0]).includes('Unsupported runtime')) warn(...args);
};
const { default: Provider, errors } = await import('oidc-provider');
console.warn = warn;

const MOUNT = '/oidc';
/** The resource indicator of the task API; its tokens carry `aud` OIDC_AUDIENCE. */
export const API_RESOURCE = 'urn:task-api';
/** The web app: a public client (PKCE, no secret). */
const WEB_CLIENT = 'task-web';
/** Scripts and tests (`stack token`): a native client with a loopback redirect. */
const CLI_CLIENT = 'task-cli';
const CLI_REDIRECT = 'http://127.0.0.1/callback';

function setting(name, fallback) {
  const value = process.env[name];
  if (value === undefined || value.trim() === '') {
    if (fallback === undefined) {
      console.error(`error: ${name} is not set`);
      process.exit(2);
    }
    return fallback;
  }
  return value.trim();
}

const issuer = setting('OIDC_ISSUER');
if (new URL(issuer).pathname !== MOUNT) {
  console.error(`error: OIDC_ISSUER must end in ${MOUNT}, got ${issuer}`);
  process.exit(2);
}
const port = Number(setting('OIDC_PORT'));
const host = setting('OIDC_HOST', '127.0.0.1');
const stateDir = setting('OIDC_STATE_DIR');
const webOrigins = setting('OIDC_WEB_ORIGINS', new URL(issuer).origin).split(',').map((o) => o.trim()).filter(Boolean);
const audience = setting('OIDC_AUDIENCE', 'task-api');
const accessTokenTtl = Number(setting('OIDC_ACCESS_TOKEN_TTL', '300'));
if (!(accessTokenTtl > 0 && accessTokenTtl <= 300)) {
  console.error('error: OIDC_ACCESS_TOKEN_TTL must be 1 to 300 seconds');
  process.exit(2);
}

const { signingKey, cookieKeys, users } = await loadState(stateDir);
const bySub = new Map(users.map((user) => [user.sub, user]));
const firstParty = new Set([WEB_CLIENT, CLI_CLIENT]);

const provider = new Provider(issuer, {
  adapter: MemoryAdapter,
  clients: [
    {
      client_id: WEB_CLIENT,
      application_type: 'web',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: webOrigins.map((origin) => `${origin}/`),
      post_logout_redirect_uris: webOrigins.map((origin) => `${origin}/`),
      id_token_signed_response_alg: SIGNING_ALG,
    },
    {
      client_id: CLI_CLIENT,
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [CLI_REDIRECT],
      id_token_signed_response_alg: SIGNING_ALG,
    },
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: cookieKeys },
  pkce: { required: () => true },
  claims: { openid: ['sub'], profile: ['preferred_username', 'roles'] },
  scopes: ['openid', 'profile', 'offline_access'],
  responseTypes: ['code'],
  async findAccount(_ctx, sub) {
    const user = bySub.get(sub);
    if (!user) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { sub, preferred_username: user.username, roles: user.roles };
      },
    };
  },
  // First-party clients need no consent screen: what they ask for is granted.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (!grantId && !firstParty.has(ctx.oidc.client.clientId)) return undefined;
    return firstPartyGrant(grantId, ctx.oidc.client.clientId, ctx.oidc.session.accountId);
  },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        ctx.type = 'text/html; charset=utf-8';
        ctx.body = signOutPage(form);
      },
      async postLogoutSuccessSource(ctx) {
        ctx.type = 'text/html; charset=utf-8';
        ctx.body = signedOutPage();
      },
    },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // Clients that do not name the API (yew-oauth2 sends no `resource`)
      // get a token for it all the same.
      defaultResource: () => API_RESOURCE,
      useGrantedResource: () => true,
      async getResourceServerInfo(_ctx, resource) {
        if (resource !== API_RESOURCE) throw new errors.InvalidTarget();
        return {
          scope: 'tasks',
          audience,
          accessTokenTTL: accessTokenTtl,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: SIGNING_ALG } },
        };
      },
    },
  },
  // The API's roles travel in its access tokens (RFC 9068 `roles`).
  async extraTokenClaims(_ctx, token) {
    const user = bySub.get(token.accountId);
    return user ? { roles: user.roles } : undefined;
  },
  // Every client refreshes without `offline_access` (which needs a consent
  // prompt); the refresh token ends with the sign-in session.
  async issueRefreshToken(_ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  ttl: {
    AccessToken: accessTokenTtl,
    AuthorizationCode: 60,
    IdToken: accessTokenTtl,
    Interaction: 600,
    RefreshToken: 8 * 3600,
    Session: 8 * 3600,
    Grant: 8 * 3600,
  },
  interactions: {
    url: (_ctx, interaction) => `${MOUNT}/interaction/${interaction.uid}`,
  },
  renderError(ctx, out) {
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = `${out.error}: ${out.error_description ?? ''}\n`;
  },
});
// Behind the edge router: trust its X-Forwarded-Proto and Host.
provider.proxy = true;

const providerCallback = provider.callback();

/** The grant of a first-party client: the app's scopes and the API. */
async function firstPartyGrant(grantId, clientId, accountId) {
  let grant = grantId ? await provider.Grant.find(grantId) : undefined;
  grant ??= new provider.Grant({ clientId, accountId });
  grant.addOIDCScope('openid profile offline_access');
  grant.addResourceScope(API_RESOURCE, 'tasks');
  await grant.save();
  return grant;
}

function send(res, status, type, body, headers = {}) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
  res.end(body);
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 16 * 1024) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** GET: the sign-in form (or, for a consent prompt, nothing to ask: go on). */
async function showInteraction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'login') {
    send(res, 200, 'text/html; charset=utf-8', loginPage({ action: `${details.uid}/login` }));
    return;
  }
  // Consent, for a first-party client: granted without asking. (Native
  // clients are always asked, RFC 8252; the web client never gets here.)
  if (!firstParty.has(details.params.client_id)) {
    await provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'only the task app\'s own clients may sign in here',
    });
    return;
  }
  const grant = await firstPartyGrant(details.grantId, details.params.client_id, details.session.accountId);
  await provider.interactionFinished(req, res, { consent: { grantId: grant.jti } }, { mergeWithLastSubmission: true });
}

/** POST: checks the username and password. */
async function submitLogin(req, res) {
  const details = await provider.interactionDetails(req, res);
  const form = await readForm(req);
  const username = (form.get('username') ?? '').trim();
  const password = form.get('password') ?? '';
  const user = users.find((u) => u.username === username);
  if (!user || user.password !== password) {
    send(res, 401, 'text/html; charset=utf-8', loginPage({
      action: 'login',
      username,
      problem: 'That username and password do not match. Check them and try again.',
    }));
    return;
  }
  await provider.interactionFinished(req, res, {
    login: { accountId: user.sub },
  }, { mergeWithLastSubmission: false });
}

const interactionPath = new RegExp(`^${MOUNT}/interaction/([A-Za-z0-9_-]+)(/login)?$`);

const server = createServer(async (req, res) => {
  const url = new URL(req.url, 'http://localhost');
  try {
    if (url.pathname === `${MOUNT}/login.css`) {
      send(res, 200, 'text/css; charset=utf-8', LOGIN_CSS, { 'cache-control': 'max-age=3600' });
      return;
    }
    const interaction = interactionPath.exec(url.pathname);
    if (interaction && !interaction[2] && req.method === 'GET') {
      await showInteraction(req, res);
      return;
    }
    if (interaction && interaction[2] && req.method === 'POST') {
      await submitLogin(req, res);
      return;
    }
    if (url.pathname === MOUNT || url.pathname.startsWith(`${MOUNT}/`)) {
      // The provider routes below its mount path.
      req.originalUrl = req.url;
      req.url = req.url.slice(MOUNT.length) || '/';
      providerCallback(req, res);
      return;
    }
    send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  } catch (err) {
    const status = err instanceof errors.SessionNotFound ? 400 : 500;
    if (status === 500) console.error(err);
    send(res, status, 'text/plain; charset=utf-8',
      status === 400 ? 'This sign-in has expired or was already used: start again from the app.\n' : 'internal error\n');
  }
});

server.listen(port, host, () => {
  console.log(JSON.stringify({ level: 'INFO', message: 'OpenID Provider listening', issuer, address: `${host}:${port}` }));
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
