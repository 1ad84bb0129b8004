#!/usr/bin/env node
// node-oidc-provider on 127.0.0.1, for httpx-remedy's integration tests (see README.md here).
//
//   node tests/oidc/server.mjs [--port 0] [--jwks FILE] [--interval 5] [--poll-spacing-ms MS]
//       [--slow-down-step-ms 5000] [--device-code-ttl 600] [--access-token-ttl 600]
//       [--dpop-nonce required|off] [--exit-on-stdin-close]
//
// The first line on stdout is JSON: {"issuer", "port", "resource", "clients"}; nothing else is
// written to stdout (the provider's notices go to stderr). Besides the provider's own routes
// (/token, /device/auth, /token/revocation, /token/introspection, /jwks, ...) it serves:
//
//   GET|POST|... /api/resource   a protected resource that needs scope `read`
//   GET|POST|... /api/write      the same, needing scope `write` (for insufficient_scope)
//   POST /rig/device/approve     {"user_code", "account_id"?}  approve a pending device code
//   POST /rig/device/deny        {"user_code"}                 the user says no (access_denied)
//   POST /rig/device/slow-down   {"user_code", "times"?}       the next polls answer slow_down
//   POST /rig/device/expire      {"user_code"}                 the next poll answers expired_token
//   POST /rig/revoke             {"client_id"}                 destroy that client's access tokens
//   GET /rig/dpop-nonce                                        the nonce a DPoP proof may carry now
//   GET /rig/requests, DELETE /rig/requests                    what reached /token, /device/auth
//                                                              and /api (oldest first), or forget it
//
// The protected resource checks tokens and DPoP proofs with oidc-provider's own code (the
// module-private helpers imported below; their version is pinned by package-lock.json).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';
import { normalize as normalizeUserCode } from 'oidc-provider/lib/helpers/user_codes.js';
import validateDpop, { checkDpopReplay } from 'oidc-provider/lib/helpers/validate_dpop.js';
import instance from 'oidc-provider/lib/helpers/weak_cache.js';
import getSetWWWAuthenticateHeader from 'oidc-provider/lib/shared/set_www_authenticate_header.js';

// oidc-provider prints its notices with console.info: stdout is for the ready line alone.
console.info = (...args) => console.error(...args);

const { values: opt } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    jwks: { type: 'string' },
    interval: { type: 'string', default: '5' },
    'poll-spacing-ms': { type: 'string' },
    'slow-down-step-ms': { type: 'string', default: '5000' },
    'device-code-ttl': { type: 'string', default: '600' },
    'access-token-ttl': { type: 'string', default: '600' },
    'dpop-nonce': { type: 'string', default: 'required' },
    'exit-on-stdin-close': { type: 'boolean', default: false },
  },
});
const INTERVAL = Number(opt.interval); // seconds, advertised in the device authorization response
const POLL_SPACING_MS = Number(opt['poll-spacing-ms'] ?? INTERVAL * 1000); // enforced
const SLOW_DOWN_STEP_MS = Number(opt['slow-down-step-ms']); // RFC 8628 §3.5: +5 s per slow_down
const POLL_TOLERANCE_MS = 50; // timer jitter between the client's sleep and our clock
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

const SECRETS = {
  basic: 'basic s3cret+/%:&=', // needs RFC 6749 §2.3.1 form-encoding before base64
  post: 'post-s3cret',
  dpop: 'dpop-s3cret',
};
const API_SCOPES = 'read write';
// `admin` is a known scope that no client may ask for: the way to invalid_scope.
const STATIC_SCOPES = ['openid', 'offline_access', 'admin'];
const CLIENT_SCOPE = 'openid offline_access'; // the static scopes a client may ask for
const ALL_GRANTS = ['client_credentials', 'refresh_token', DEVICE_GRANT];

function signingKeys() {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  return [
    { ...rsa.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid: 'rig-rs256' },
    { ...ec.export({ format: 'jwk' }), use: 'sig', alg: 'ES256', kid: 'rig-es256' },
  ];
}

function clients() {
  const common = { response_types: [], redirect_uris: [], scope: CLIENT_SCOPE };
  const list = [
    { ...common, client_id: 'basic', client_secret: SECRETS.basic, grant_types: ALL_GRANTS,
      token_endpoint_auth_method: 'client_secret_basic' },
    { ...common, client_id: 'post', client_secret: SECRETS.post, grant_types: ALL_GRANTS,
      token_endpoint_auth_method: 'client_secret_post' },
    // A public client: the usual device-login CLI. Its DPoP proofs bind its refresh tokens.
    { ...common, client_id: 'device', grant_types: [DEVICE_GRANT, 'refresh_token'],
      token_endpoint_auth_method: 'none' },
    // Must prove possession: a token request without a DPoP proof is invalid_grant.
    { ...common, client_id: 'dpop', client_secret: SECRETS.dpop, grant_types: ALL_GRANTS,
      token_endpoint_auth_method: 'client_secret_basic', dpop_bound_access_tokens: true },
  ];
  if (opt.jwks) {
    // The test's public keys (RSA and EC in one set: the assertion's alg picks the key).
    const jwks = JSON.parse(readFileSync(opt.jwks, 'utf8'));
    list.push({ ...common, client_id: 'jwt', grant_types: ALL_GRANTS, jwks,
      token_endpoint_auth_method: 'private_key_jwt' });
  }
  return list;
}

const server = http.createServer();
await new Promise((resolve) => { server.listen(Number(opt.port), '127.0.0.1', resolve); });
const { port } = server.address();
const ISSUER = `http://127.0.0.1:${port}`;
const RESOURCE = `${ISSUER}/api`; // the resource indicator (and audience) of /api/*

const provider = new Provider(ISSUER, {
  clients: clients(),
  jwks: { keys: signingKeys() },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: STATIC_SCOPES,
  findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  features: {
    devInteractions: { enabled: false }, // device codes are approved through /rig/device/*
    userinfo: { enabled: false }, // so every access token is for the resource below
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    deviceFlow: { enabled: true },
    dPoP: {
      enabled: true,
      nonceSecret: randomBytes(32), // server-issued nonces (RFC 9449 §8, §9)
      requireNonce: () => opt['dpop-nonce'] === 'required',
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (ctx, client, oneOf) => oneOf ?? RESOURCE,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, resourceIndicator) => {
        if (resourceIndicator !== RESOURCE) throw new errors.InvalidTarget();
        // Opaque: stored by the provider, so found (or not) at the resource, and revocable.
        return { scope: API_SCOPES, audience: RESOURCE, accessTokenFormat: 'opaque',
          accessTokenTTL: Number(opt['access-token-ttl']) };
      },
    },
  },
  enabledJWA: { dPoPSigningAlgValues: ['ES256', 'ES384', 'PS256', 'RS256', 'Ed25519', 'EdDSA'] },
  rotateRefreshToken: () => true, // every refresh answers a new refresh token
  ttl: {
    AccessToken: (ctx, token) => token.resourceServer?.accessTokenTTL ?? 600,
    ClientCredentials: (ctx, token) => token.resourceServer?.accessTokenTTL ?? 600,
    DeviceCode: () => Number(opt['device-code-ttl']),
    Grant: () => 86400,
    IdToken: () => 600,
    Interaction: () => 600,
    RefreshToken: () => 86400,
    Session: () => 86400,
  },
});

// ---- what the tests ask the rig: bounded log of requests, device pacing, tokens by client
const requests = [];
const pacing = new Map(); // device_code -> { last, spacing, forced }
const issued = new Map(); // client_id -> Set of [model, jti]

for (const event of ['access_token.saved', 'client_credentials.saved']) {
  provider.on(event, (token) => {
    if (!issued.has(token.clientId)) issued.set(token.clientId, new Set());
    issued.get(token.clientId).add([token.kind, token.jti]);
  });
}

// RFC 8628 §3.5 pacing, which oidc-provider leaves to the deployment: a poll sooner than the
// current spacing after the previous one (for the same device_code) answers slow_down and
// widens the spacing by --slow-down-step-ms for good. The first poll is never early. With
// --poll-spacing-ms 0 there is no pacing at all (for a client on a fake clock): only
// /rig/device/slow-down makes a slow_down then.
const { grantTypeHandlers } = instance(provider);
const deviceGrant = grantTypeHandlers.get(DEVICE_GRANT);
grantTypeHandlers.set(DEVICE_GRANT, async (ctx, next) => {
  const code = ctx.oidc.params.device_code;
  const now = Date.now();
  const state = pacing.get(code) ?? { last: undefined, spacing: POLL_SPACING_MS, forced: 0 };
  pacing.set(code, state);
  const early = state.last !== undefined && now - state.last < state.spacing - POLL_TOLERANCE_MS;
  state.last = now;
  if (state.forced > 0 || early) {
    state.forced = Math.max(0, state.forced - 1);
    if (POLL_SPACING_MS > 0) state.spacing += SLOW_DOWN_STEP_MS;
    throw new errors.SlowDown();
  }
  return deviceGrant(ctx, next);
});

async function readJson(ctx) {
  const chunks = [];
  for await (const chunk of ctx.req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : {};
}

async function pendingDeviceCode(userCode) {
  const code = userCode && await provider.DeviceCode.findByUserCode(normalizeUserCode(userCode));
  if (!code || code.isExpired || code.accountId || code.error) {
    throw Object.assign(new Error(`no pending device code for user_code ${userCode}`),
      { status: 404 });
  }
  return code;
}

// What the consent screen would do (actions/authorization/device.js): a Grant for the
// requested scopes and the resource, and the device code marked as approved by the account.
async function approveDevice({ user_code: userCode, account_id: accountId = 'alice' }) {
  const code = await pendingDeviceCode(userCode);
  const requested = (code.params.scope ?? '').split(' ').filter(Boolean);
  const grant = new provider.Grant({ clientId: code.clientId, accountId });
  grant.addOIDCScope(requested.filter((s) => STATIC_SCOPES.includes(s)).join(' '));
  grant.addResourceScope(RESOURCE, requested.filter((s) => API_SCOPES.includes(s)).join(' '));
  Object.assign(code, {
    accountId,
    grantId: await grant.save(),
    authTime: Math.floor(Date.now() / 1000),
    scope: requested.join(' '),
    resource: RESOURCE,
  });
  await code.save();
  return { approved: userCode, account_id: accountId };
}

async function denyDevice({ user_code: userCode }) {
  const code = await pendingDeviceCode(userCode);
  Object.assign(code, { error: 'access_denied', errorDescription: 'the user said no' });
  await code.save();
  return { denied: userCode };
}

async function slowDownDevice({ user_code: userCode, times = 1 }) {
  const code = await pendingDeviceCode(userCode);
  // The code's jti is what the client polls with (its device_code).
  const state = pacing.get(code.jti) ?? { last: undefined, spacing: POLL_SPACING_MS, forced: 0 };
  state.forced += times;
  pacing.set(code.jti, state);
  return { slow_down: userCode, times: state.forced };
}

// BaseToken#save keeps a token for its remaining lifetime, none once expired: store the
// expired code for another minute, so that the next poll finds it and answers expired_token.
const saveFor = Object.getPrototypeOf(provider.BaseToken.prototype).save;

async function expireDevice({ user_code: userCode }) {
  const code = await pendingDeviceCode(userCode);
  code.exp = Math.floor(Date.now() / 1000);
  await saveFor.call(code, 60);
  return { expired: userCode };
}

async function revokeClientTokens({ client_id: clientId }) {
  let revoked = 0;
  for (const [kind, jti] of issued.get(clientId) ?? []) {
    const token = await provider[kind].find(jti);
    if (token) {
      await token.destroy();
      revoked += 1;
    }
  }
  issued.delete(clientId);
  return { revoked };
}

const RIG_ROUTES = {
  'POST /rig/device/approve': approveDevice,
  'POST /rig/device/deny': denyDevice,
  'POST /rig/device/slow-down': slowDownDevice,
  'POST /rig/device/expire': expireDevice,
  'POST /rig/revoke': revokeClientTokens,
  'GET /rig/dpop-nonce': async () => ({ nonce: instance(provider).DPoPNonces.nextChallenge() }),
  'GET /rig/requests': async () => requests,
  'DELETE /rig/requests': async () => ({ forgotten: requests.splice(0).length }),
};

provider.use(async function rigRoutes(ctx, next) {
  const route = RIG_ROUTES[`${ctx.method} ${ctx.path}`];
  if (!route) return next();
  try {
    ctx.body = await route(ctx.method === 'POST' ? await readJson(ctx) : {});
  } catch (err) {
    ctx.status = err.status ?? 400;
    ctx.body = { error: err.message };
  }
  return undefined;
});

provider.use(async function recordRequests(ctx, next) {
  const logged = ['/token', '/device/auth'].includes(ctx.path) || ctx.path.startsWith('/api/');
  try {
    await next();
  } finally {
    if (logged) {
      let params = {};
      try { params = ctx.oidc?.params ?? {}; } catch { /* no params parsed */ }
      requests.push({
        method: ctx.method,
        path: ctx.path,
        grant_type: params.grant_type,
        authorization: ctx.get('authorization').split(' ')[0] || undefined,
        dpop: Boolean(ctx.get('dpop')),
        status: ctx.status,
        error: ctx.body?.error,
        dpop_nonce: ctx.response.get('dpop-nonce') || undefined,
      });
      if (requests.length > 1000) requests.shift();
    }
  }
});

// RFC 8628 §3.2: oidc-provider leaves `interval` out (the client then waits 5 s); say ours.
provider.use(async function deviceInterval(ctx, next) {
  await next();
  if (ctx.path === '/device/auth' && ctx.status === 200 && ctx.body?.device_code) {
    ctx.body.interval = INTERVAL;
  }
});

// ---- the protected resource: the same steps as oidc-provider's userinfo endpoint
// (lib/actions/userinfo.js, lib/shared/access_token.js), for client_credentials tokens too.
const RESOURCE_SCOPE = { '/api/resource': 'read', '/api/write': 'write' };
const challenge = getSetWWWAuthenticateHeader({ includeScope: true });

async function protectedResource(ctx) {
  const needed = RESOURCE_SCOPE[ctx.path];
  const value = ctx.oidc.getAccessToken({ acceptDPoP: true });
  // typ, alg, signature with the embedded jwk, iat, jti, htm, htu, ath, and the nonce.
  const dPoP = await validateDpop(provider, ctx, value);
  const token = await provider.AccessToken.find(value)
    ?? await provider.ClientCredentials.find(value);
  ctx.assert(token, new errors.InvalidToken('access token not found'));
  // As AccessToken whatever its kind: the challenge then names DPoP for a DPoP-bound token.
  ctx.oidc.entity('AccessToken', token);
  if (token.aud !== RESOURCE) throw new errors.InvalidToken('token audience mismatch');
  await checkDpopReplay(provider, ctx, dPoP, token.clientId, errors.InvalidToken);
  if (dPoP && !token.jkt) {
    throw new errors.InvalidToken('access token is not sender-constrained but proof of possession was provided');
  }
  if (token.jkt && (!dPoP || token.jkt !== dPoP.thumbprint)) {
    throw new errors.InvalidToken('failed jkt verification');
  }
  if (!token.scopes.has(needed)) {
    throw new errors.InsufficientScope('access token missing required scope', needed);
  }
  ctx.set('cache-control', 'no-store');
  ctx.body = {
    client_id: token.clientId,
    sub: token.accountId,
    scope: token.scope,
    token_type: token.jkt ? 'DPoP' : 'Bearer',
    method: ctx.method,
  };
}

provider.use(async function resourceRoutes(ctx, next) {
  if (!RESOURCE_SCOPE[ctx.path]) return next();
  const oidc = new provider.OIDCContext(ctx);
  oidc.route = 'resource';
  oidc.urlFor = () => `${ISSUER}${ctx.path}`; // what the proof's htu must be
  Object.defineProperty(ctx, 'oidc', { value: oidc });
  try {
    await challenge(ctx, async () => {
      try {
        await protectedResource(ctx);
      } catch (err) {
        // Say why (replayed proof, unbound token, ...): userinfo keeps it in error_detail.
        if (err instanceof errors.InvalidToken && err.error_detail) {
          err.error_description = err.error_detail;
        }
        throw err;
      }
    });
  } catch (err) {
    if (!err.expose) throw err;
    ctx.status = err.statusCode;
    ctx.body = { error: err.error, error_description: err.error_description };
  }
  return undefined;
});

server.on('request', provider.callback());
process.stdout.write(`${JSON.stringify({
  issuer: ISSUER,
  port,
  resource: RESOURCE,
  clients: Object.fromEntries(clients().map((c) => [c.client_id, c.client_secret ?? null])),
})}\n`);

function stop() {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (opt['exit-on-stdin-close']) {
  // The test process holds our stdin: when it ends, however it ends, so do we.
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}
