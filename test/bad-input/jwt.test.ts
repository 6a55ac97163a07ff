import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { CSRF_COOKIE, SESSION_AUDIENCE, SESSION_COOKIE, csrfHash, deriveSessionKey, newCsrfToken } from '../../src/admin/session.ts';
import { listenOnLoopback } from '../emulators/loopback.ts';
import {
  fillPath, leakedSecrets, loadEndpoints, recordWrites, sendFetch, startWorld, type Answer, type Endpoint, type World,
} from './endpoints.ts';

/**
 * Token attacks, systematically: every attack against every endpoint that takes that kind of
 * token, read from openapi.yaml. Shopify session tokens (the embedded API, the checkout
 * extension's endpoint, the console's Bearer way in, POST /admin/shopify) and the console's
 * session cookie. Each must be refused (401; 403 where a valid token meets the wrong app or a
 * valid session lacks the role or CSRF token), write nothing, and fetch nothing a header names.
 * test/platforms/shopify-embedded.test.ts and test/integration/admin-auth.test.ts hold the
 * single-endpoint versions of some of these; here every endpoint meets every attack.
 */

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const hs = (alg: 'sha256' | 'sha512', key: crypto.BinaryLike | crypto.KeyObject, data: string) => crypto.createHmac(alg, key).update(data).digest('base64url');

/** A JWT made by hand, so that every byte of it is the attack's choice. */
function mint(header: Record<string, unknown> | string, payload: Record<string, unknown> | string, sign: (input: string) => string): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign(input)}`;
}

const { endpoints } = loadEndpoints();
const now = () => Math.floor(Date.now() / 1000);
const { privateKey: attackerKey, publicKey: attackerPublic } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const PUBLIC_PEM = attackerPublic.export({ type: 'spki', format: 'pem' }).toString();

/** Bodies a real caller would send: if an attack got through, the write would show. */
function plausibleBody(ep: Endpoint): unknown {
  const bodies: Record<string, unknown> = {
    'PUT /shopify/app/api/settings': { expiryMinutes: 45 },
    'POST /shopify/app/api/gateway': { mode: 'sandbox', gateway: 'cryptonow', role: 'extra' },
    'PUT /shopify/app/api/gateways': { defaultId: w.paymento.connectionId, fallbackId: null },
    'POST /v1/admin/users': { email: `jwt-${crypto.randomBytes(4).toString('hex')}@staff.example`, password: 'a long enough password', role: 'operator', storeIds: [] },
    'PUT /v1/admin/users/{id}/stores': { storeIds: [w.cryptoNow.storeId] },
    'POST /v1/admin/payments/{id}/resolve': { to: 'cancelled', note: 'jwt probe' },
    'PUT /v1/admin/stores/{id}/settings': { expiryMinutes: 45 },
    'POST /v1/admin/stores/{id}/gateways': { mode: 'sandbox', gateway: 'cryptonow', role: 'extra' },
    'PUT /v1/admin/stores/{id}/gateways': { defaultId: w.paymento.connectionId, fallbackId: null },
  };
  if (bodies[ep.id]) return bodies[ep.id];
  return ep.method === 'POST' || ep.method === 'PUT' ? {} : undefined;
}

// ─── Shopify session tokens ─────────────────────────────────────────────────────────────────────

function shopifyPayload(over: Record<string, unknown> = {}, shop = w.shopify!.shop, clientId = w.shopify!.app.clientId): Record<string, unknown> {
  const t = now();
  return { iss: `https://${shop}/admin`, dest: `https://${shop}`, aud: clientId, sub: '42', exp: t + 60, nbf: t, iat: t, jti: crypto.randomUUID(), sid: crypto.randomBytes(8).toString('hex'), ...over };
}

/** Each attack, as a fresh token (session tokens live a minute). 403 is allowed where the token is genuine but for another app. */
const SHOPIFY_ATTACKS: { name: string; token: () => string; allowed: number[] }[] = (() => {
  const secret = () => w.shopify!.app.secret;
  const hs256 = (payload: Record<string, unknown>, key: crypto.BinaryLike = secret(), header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }) =>
    mint(header, payload, (i) => hs('sha256', key, i));
  const refused = [401];
  return [
    { name: 'alg none', token: () => mint({ alg: 'none', typ: 'JWT' }, shopifyPayload(), () => ''), allowed: refused },
    { name: 'alg "None"', token: () => mint({ alg: 'None', typ: 'JWT' }, shopifyPayload(), () => ''), allowed: refused },
    { name: 'alg none keeping a valid signature', token: () => { const v = hs256(shopifyPayload()); const [, p, s] = v.split('.'); return `${b64({ alg: 'none', typ: 'JWT' })}.${p}.${s}`; }, allowed: refused },
    { name: 'duplicate alg key, none last', token: () => mint('{"alg":"HS256","typ":"JWT","alg":"none"}', shopifyPayload(), (i) => hs('sha256', secret(), i)), allowed: refused },
    { name: 'RS256 header, HMAC with the app secret', token: () => hs256(shopifyPayload(), secret(), { alg: 'RS256', typ: 'JWT' }), allowed: refused },
    { name: 'HS256 keyed with a public key PEM', token: () => hs256(shopifyPayload(), PUBLIC_PEM), allowed: refused },
    { name: 'RS256 with the attacker\'s key in jwk', token: () => mint({ alg: 'RS256', typ: 'JWT', jwk: attackerPublic.export({ format: 'jwk' }) }, shopifyPayload(), (i) => crypto.sign('sha256', Buffer.from(i), attackerKey).toString('base64url')), allowed: refused },
    { name: 'jku and x5u pointing at a server of ours', token: () => mint({ alg: 'RS256', typ: 'JWT', jku: `${canary.origin}/jwks.json`, x5u: `${canary.origin}/cert.pem`, kid: '1' }, shopifyPayload(), (i) => crypto.sign('sha256', Buffer.from(i), attackerKey).toString('base64url')), allowed: refused },
    { name: 'kid path traversal with an empty key', token: () => hs256(shopifyPayload(), '', { alg: 'HS256', typ: 'JWT', kid: '../../../../dev/null' }), allowed: refused },
    { name: 'HS512 with the app secret', token: () => mint({ alg: 'HS512', typ: 'JWT' }, shopifyPayload(), (i) => hs('sha512', secret(), i)), allowed: refused },
    { name: 'expired beyond the 10 s tolerance', token: () => hs256(shopifyPayload({ exp: now() - 30, nbf: now() - 90, iat: now() - 90 })), allowed: refused },
    { name: 'not yet valid beyond the tolerance', token: () => hs256(shopifyPayload({ nbf: now() + 60, iat: now() + 60, exp: now() + 120 })), allowed: refused },
    { name: 'no expiry', token: () => { const p = shopifyPayload(); delete p.exp; return hs256(p); }, allowed: refused },
    { name: 'expiry as a string', token: () => hs256(shopifyPayload({ exp: String(now() + 60) })), allowed: refused },
    { name: 'wrong audience', token: () => hs256(shopifyPayload({ aud: `${w.shopify!.app.clientId}x` })), allowed: refused },
    { name: 'audience of an unregistered app, signed with its own secret', token: () => hs256(shopifyPayload({ aud: 'unregistered-client-id' }), 'unregistered-secret'), allowed: refused },
    { name: 'wrong issuer (another shop than dest)', token: () => hs256(shopifyPayload({ iss: `https://${w.shopify!.other!.shop}/admin` })), allowed: refused },
    { name: 'dest not a shop domain', token: () => hs256(shopifyPayload({ dest: 'https://evil.example' })), allowed: refused },
    { name: 'dest a look-alike domain', token: () => hs256(shopifyPayload({ dest: `https://${w.shopify!.shop}.evil.example` })), allowed: refused },
    { name: 'tampered payload (dest moved to another shop)', token: () => { const [h, , s] = hs256(shopifyPayload()).split('.'); return `${h}.${b64(shopifyPayload({}, w.shopify!.other!.shop))}.${s}`; }, allowed: refused },
    { name: 'signature stripped', token: () => { const [h, p] = hs256(shopifyPayload()).split('.'); return `${h}.${p}.`; }, allowed: refused },
    { name: 'signed with another app\'s secret', token: () => hs256(shopifyPayload(), w.shopify!.other!.app.secret), allowed: refused },
    // Genuine token of the other registered app, for a shop installed through the first one.
    { name: 'token from another app', token: () => hs256(shopifyPayload({}, w.shopify!.shop, w.shopify!.other!.app.clientId), w.shopify!.other!.app.secret), allowed: [401, 403] },
    { name: 'five parts (JWE-like)', token: () => `${hs256(shopifyPayload())}.${b64('x')}.${b64('y')}`, allowed: refused },
    { name: '8 KB of base64', token: () => crypto.randomBytes(6000).toString('base64url'), allowed: refused },
  ];
})();

// ─── The console's session cookie ───────────────────────────────────────────────────────────────

function sessionPayload(over: Record<string, unknown> = {}, csrf: string = w.operator.csrf): Record<string, unknown> {
  const t = now();
  const { sub } = JSON.parse(Buffer.from(w.operator.session.split('.')[1]!, 'base64url').toString()) as { sub: string };
  return { role: 'operator', via: 'password', csrf: csrfHash(csrf), iat: t, exp: t + 1800, aud: SESSION_AUDIENCE, iss: w.t.app.config.publicUrl, sub, ...over };
}

/** Operator-only and merchant-or-operator actions: a support account must get 403 there. */
const needsMoreThanSupport = (ep: Endpoint) => ep.path.startsWith('/v1/admin/users') || ep.path.endsWith('/resolve')
  || (ep.method !== 'GET' && (ep.path.endsWith('/settings') || ep.path.endsWith('/gateways')));

/**
 * `only` picks the endpoints an attack is about (default: all); `allowed` the answers. Signing
 * out needs no valid session (it only clears the caller's own cookies), so there 204 is a refusal too.
 */
const COOKIE_ATTACKS: { name: string; session: () => string; allowed: (ep: Endpoint) => number[]; only?: (ep: Endpoint) => boolean }[] = (() => {
  const hs256 = (payload: Record<string, unknown>, key: crypto.BinaryLike = sessionKey, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }) =>
    mint(header, payload, (i) => hs('sha256', key, i));
  const refused = (ep: Endpoint) => (ep.id === 'DELETE /v1/admin/session' ? [204] : [401]);
  const otherDeployment = deriveSessionKey(crypto.randomBytes(32));
  return [
    { name: 'alg none', session: () => mint({ alg: 'none', typ: 'JWT' }, sessionPayload(), () => ''), allowed: refused },
    { name: 'alg "NONE" keeping a valid signature', session: () => { const [, p, s] = hs256(sessionPayload()).split('.'); return `${b64({ alg: 'NONE', typ: 'JWT' })}.${p}.${s}`; }, allowed: refused },
    { name: 'RS256 header, HMAC with the session key', session: () => hs256(sessionPayload(), sessionKey, { alg: 'RS256', typ: 'JWT' }), allowed: refused },
    { name: 'HS256 keyed with a public key PEM', session: () => hs256(sessionPayload(), PUBLIC_PEM), allowed: refused },
    { name: 'RS256 with the attacker\'s key in jwk and jku', session: () => mint({ alg: 'RS256', typ: 'JWT', jwk: attackerPublic.export({ format: 'jwk' }), jku: `${canary.origin}/jwks.json` }, sessionPayload(), (i) => crypto.sign('sha256', Buffer.from(i), attackerKey).toString('base64url')), allowed: refused },
    { name: 'HS512 with the session key', session: () => mint({ alg: 'HS512', typ: 'JWT' }, sessionPayload(), (i) => hs('sha512', sessionKey, i)), allowed: refused },
    { name: 'expired', session: () => hs256(sessionPayload({ iat: now() - 3600, exp: now() - 60 })), allowed: refused },
    { name: 'not yet valid', session: () => hs256(sessionPayload({ nbf: now() + 600 })), allowed: refused },
    { name: 'lives a day', session: () => hs256(sessionPayload({ exp: now() + 86_400 })), allowed: refused },
    { name: 'wrong audience', session: () => hs256(sessionPayload({ aud: 'coinbridge-admin-x' })), allowed: refused },
    { name: 'wrong issuer (another deployment\'s PUBLIC_URL)', session: () => hs256(sessionPayload({ iss: 'https://other-coinbridge.example' })), allowed: refused },
    { name: 'token from another deployment (its own key)', session: () => hs256(sessionPayload(), otherDeployment), allowed: refused },
    { name: 'tampered payload (sub of another account)', session: () => { const [h, , s] = w.operator.session.split('.'); return `${h}.${b64(sessionPayload({ sub: w.supportUserId }))}.${s}`; }, allowed: refused },
    { name: 'valid signature, account that does not exist', session: () => hs256(sessionPayload({ sub: crypto.randomUUID() })), allowed: refused },
    { name: 'valid signature, Shopify session of a shop never installed', session: () => hs256(sessionPayload({ via: 'shopify', role: 'merchant', sub: 'shopify:nowhere.myshopify.com', shop: 'nowhere.myshopify.com' })), allowed: refused },
    { name: 'a Shopify session token as the cookie', session: () => w.shopify!.emu.sessionToken(w.shopify!.app.clientId, w.shopify!.shop), allowed: refused },
    // Valid signature and a real support account claiming more: the role is read from the database.
    { name: 'valid signature, support account claiming operator', session: () => hs256(sessionPayload({ sub: w.supportUserId, role: 'operator' })), allowed: () => [403], only: needsMoreThanSupport },
    // A genuine session whose CSRF claim belongs to another token than the one sent: every change refused.
    { name: 'valid signature, CSRF token of another session', session: () => hs256(sessionPayload({}, newCsrfToken())), allowed: () => [403], only: (ep) => ep.method !== 'GET' },
  ];
})();

// Set by the suite's before(); the attacks above read them when they mint, not when they are listed.
let w: World;
let writes: Awaited<ReturnType<typeof recordWrites>>;
let canary: { origin: string; hits: string[]; close(): Promise<void> };
let sessionKey: Buffer;

describe('JWT attacks on every endpoint that takes a token', { timeout: 170_000 }, () => {

  before(async () => {
    const hits: string[] = [];
    const server = http.createServer((req, res) => { hits.push(`${req.method} ${req.url}`); res.end('{}'); });
    const { origin, destroySockets } = await listenOnLoopback(server);
    canary = { origin, hits, close: () => new Promise((r) => { destroySockets(); server.close(() => r()); }) };
    w = await startWorld({ shopify: true, secondShopifyApp: true });
    writes = await recordWrites(w.t);
    sessionKey = deriveSessionKey(Buffer.from(w.t.env.ENCRYPTION_KEY!, 'base64'));
  });
  after(async () => {
    await w?.close();
    await canary?.close();
  });

  /** A request to `ep` (fixture path: for a Shopify token, the shop's own store and payment) with `headers`. */
  async function call(ep: Endpoint, headers: Record<string, string>, viaShopify: boolean): Promise<Answer> {
    const values = w.fixturePath(ep, viaShopify ? 'shopifySession' : 'staffSession');
    const query = ep.path === '/shopify/extension/payment' ? '?order_id=gid%3A%2F%2Fshopify%2FOrder%2F5000001001' : '';
    const body = plausibleBody(ep);
    return sendFetch(w.t.url, { method: ep.method, target: fillPath(ep.path, values) + query, body: body === undefined ? undefined : Buffer.from(JSON.stringify(body)) },
      { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers });
  }

  async function expectRefused(label: string, ans: Answer, allowed: number[], problems: string[]): Promise<void> {
    if (!allowed.includes(ans.status)) problems.push(`${label}: ${ans.status} ${ans.text.slice(0, 200)}`);
    const sessionSet = Object.entries(ans.headers).some(([k, v]) => k.startsWith('set-cookie') && v.startsWith(`${SESSION_COOKIE}=`) && !v.startsWith(`${SESSION_COOKIE}=;`));
    if (sessionSet) problems.push(`${label}: a session cookie was issued`);
    const written = await writes.since();
    if (written.length) problems.push(`${label}: wrote ${written.map((x) => `${x.op} ${x.table}`).join(', ')}`);
  }

  // ─── Shopify session tokens ──────────────────────────────────────────────────────────────────

  const shopifyEndpoints = () => endpoints.filter((ep) => ep.auth.includes('shopifySession') || ep.auth.includes('shopifyCheckout'));

  it('a genuine session token gets past authentication on every such endpoint (so the refusals below are the attacks\')', async () => {
    const problems: string[] = [];
    for (const ep of shopifyEndpoints().filter((e) => e.method === 'GET')) {
      const ans = await call(ep, { authorization: `Bearer ${w.shopify!.emu.sessionToken(w.shopify!.app.clientId, w.shopify!.shop)}` }, true);
      if (ans.status === 401 || ans.status >= 500) problems.push(`${ep.id}: ${ans.status} ${ans.text.slice(0, 160)}`);
    }
    await writes.since();
    assert.deepEqual(problems, []);
  });

  for (const spec of SHOPIFY_ATTACKS) {
    it(`Shopify session token, ${spec.name}: refused by every endpoint that takes one`, async () => {
      const problems: string[] = [];
      for (const ep of shopifyEndpoints()) {
        await expectRefused(ep.id, await call(ep, { authorization: `Bearer ${spec.token()}` }, true), spec.allowed, problems);
      }
      // The console's way in from the embedded app takes the token in the body.
      const form = await sendFetch(w.t.url, { method: 'POST', target: '/admin/shopify', body: Buffer.from(new URLSearchParams({ idToken: spec.token() }).toString()) },
        { 'content-type': 'application/x-www-form-urlencoded' });
      await expectRefused('POST /admin/shopify', form, spec.allowed, problems);
      assert.deepEqual(problems, []);
    });
  }

  // ─── The console's session cookie ────────────────────────────────────────────────────────────

  const staffEndpoints = () => endpoints.filter((ep) => ep.auth.includes('staffSession'));

  it('the genuine session cookie gets past authentication on every such endpoint', async () => {
    const problems: string[] = [];
    for (const ep of staffEndpoints().filter((e) => e.method === 'GET')) {
      const ans = await call(ep, { cookie: w.operator.cookie }, false);
      if (ans.status !== 200) problems.push(`${ep.id}: ${ans.status} ${ans.text.slice(0, 160)}`);
    }
    await writes.since();
    assert.deepEqual(problems, []);
  });

  for (const spec of COOKIE_ATTACKS) {
    it(`console session cookie, ${spec.name}: refused by every /v1/admin endpoint it concerns`, async () => {
      const problems: string[] = [];
      for (const ep of staffEndpoints().filter(spec.only ?? (() => true))) {
        const headers = { cookie: `${SESSION_COOKIE}=${spec.session()}; ${CSRF_COOKIE}=${w.operator.csrf}`, 'x-csrf-token': w.operator.csrf };
        const ans = await call(ep, headers, false);
        await expectRefused(ep.id, ans, spec.allowed(ep), problems);
      }
      assert.deepEqual(problems, []);
    });
  }

  it('no token header made the server fetch anything', () => {
    assert.deepEqual(canary.hits, []);
  });

  it('the logs carry no planted secret', () => {
    const text = w.logText();
    assert.match(text, /Shopify shop installed/, 'the log holds the Shopify flows that handled these tokens');
    assert.deepEqual(leakedSecrets(text, w.planted()), []);
  });
});
