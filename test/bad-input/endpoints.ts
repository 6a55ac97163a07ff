/**
 * Every public endpoint, read from openapi.yaml (test/unit/openapi.test.ts keeps it complete),
 * with the ways in each one has, and a "world" holding a valid credential for each way in: a
 * store API key, a staff session with its CSRF token, Shopify session tokens of an installed
 * shop, a WooCommerce store's key and webhook secret, gateway callback secrets and the sandbox
 * gateways' merchant keys. A corpus sent without them would stop at the authentication check.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { parse } from 'yaml';
import { saveShopifyApp } from '../../src/platforms/shopify/apps.ts';
import { findWooStore } from '../../src/platforms/woocommerce/stores.ts';
import { connectGateway } from '../../src/core/connections.ts';
import { createStore, issueApiKey } from '../../src/db/stores-repo.ts';
import { startShopifyEmulator, type ShopifyEmulator } from '../emulators/shopify/server.ts';
import { startWooCommerceEmulator, type WooCommerceEmulator } from '../emulators/woocommerce/server.ts';
import { createStaff, signIn, type AdminClient } from '../support/admin.ts';
import { api, paymentBody, startTestApp, waitFor, type TestApp } from '../support/harness.ts';
import { installShop, paymentForOrder, placeOrder } from '../support/shopify.ts';
import { beginConnect, connectStore } from '../support/woocommerce.ts';
import type { BodySchema, ParamSchema } from './corpus.ts';

// ─── The endpoints ─────────────────────────────────────────────────────────────────────────────

export interface Endpoint {
  /** "POST /v1/payments" */
  id: string;
  method: string;
  /** The template, e.g. /v1/payments/{id}. */
  path: string;
  pathParams: string[];
  queryParams: { name: string; schema: ParamSchema }[];
  body: BodySchema | undefined;
  /** False only where openapi.yaml documents an optional body (then no body at all is a valid request). */
  bodyRequired: boolean;
  /** Documented responses: whether each is the `{error: {code, message}}` envelope, or HTML. */
  responses: Record<string, { envelope: boolean; html: boolean }>;
  /** The ways in; empty for a public endpoint. */
  auth: AuthKind[];
}

export type AuthKind =
  | 'storeApiKey' | 'wooStoreKey' | 'staffSession' | 'shopifySession' | 'shopifyCheckout' | 'shopifyWebhook' | 'wooWebhook'
  | 'ipnPaymento' | 'ipnCryptoCheckout' | 'ipnCryptoNow' | 'sandboxPaymento' | 'sandboxCryptoCheckout' | 'sandboxCryptoNow';

/**
 * Endpoints whose credential openapi.yaml states only in words (a description, a signature
 * header), keyed by path. Checked in this order; the first match wins.
 */
const AUTH_BY_PATH: [RegExp, AuthKind[]][] = [
  [/^\/shopify\/app\/api\//, ['shopifySession']],
  [/^\/shopify\/extension\/payment$/, ['shopifyCheckout']],
  [/^\/shopify\/webhooks$/, ['shopifyWebhook']],
  [/^\/woocommerce\/webhooks\//, ['wooWebhook']],
  [/^\/v1\/woocommerce\/settings$/, ['wooStoreKey']],
  [/^\/ipn\//, ['ipnPaymento', 'ipnCryptoCheckout', 'ipnCryptoNow']],
  [/^\/sandbox\/paymento\/v1\//, ['sandboxPaymento']],
  [/^\/sandbox\/crypto-checkout\/api\//, ['sandboxCryptoCheckout']],
  [/^\/sandbox\/cryptonow\/api\//, ['sandboxCryptoNow']],
];

/**
 * Endpoints anyone may call, and why. A new endpoint that is neither here, nor documented with
 * a `security`, nor in AUTH_BY_PATH fails the completeness test: someone must say how it is
 * entered before the corpus can cover it.
 */
export const PUBLIC: Record<string, string> = {
  'GET /pay/{ref}': 'the unguessable ref is the capability',
  'GET /v1/checkout/{ref}': 'the unguessable ref is the capability',
  'GET /v1/checkout/{ref}/events': 'the unguessable ref is the capability',
  'GET /widget.js': 'static',
  'GET /widget/{file}': 'static',
  'GET /shopify/install': 'starts OAuth; state cookie + HMAC guard the callback',
  'GET /shopify/callback': 'OAuth callback: state cookie, HMAC and timestamp are its credential',
  'GET /shopify/app': 'HTML shell; its API needs session tokens',
  'GET /woocommerce/connect': 'starts wc-auth',
  'POST /woocommerce/callback/{nonce}': 'the single-use nonce in the path is the capability',
  'POST /woocommerce/claim': 'the claim secret in the body is the credential',
  'GET /healthz': 'probe', 'GET /readyz': 'probe', 'GET /metrics': 'probe',
  'GET /sandbox/{gateway}/gateway': 'sandbox pay page: the token is the capability',
  'POST /sandbox/{gateway}/gateway/{token}/{action}': 'sandbox pay page button: the token is the capability',
  'POST /v1/admin/session': 'sign-in: the body carries the credentials',
  'GET /v1/admin/setup': 'says whether setup is needed', 'POST /v1/admin/setup': 'the setup token in the body is the credential',
  'POST /admin/shopify': 'the Shopify session token comes in the body (jwt.test.ts covers it)',
  'GET /admin': 'HTML shell', 'GET /admin/login': 'HTML shell', 'GET /admin/setup': 'HTML shell', 'GET /admin/health': 'HTML shell',
  'GET /admin/payments/{id}': 'HTML shell', 'GET /admin/assets/{file}': 'static',
};

const SECURITY: Record<string, AuthKind> = { storeApiKey: 'storeApiKey', staffSession: 'staffSession', shopifySessionToken: 'shopifySession' };
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

const openapi = parse(fs.readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8'));

function resolve<T>(node: unknown): T {
  let value = node as { $ref?: string };
  while (value && typeof value === 'object' && typeof value.$ref === 'string') {
    value = value.$ref.replace(/^#\//, '').split('/').reduce((o: any, k) => o?.[k], openapi);
  }
  return value as T;
}

function authOf(method: string, path: string, op: { security?: Record<string, unknown>[] }): AuthKind[] | undefined {
  if (op.security) return op.security.flatMap((s) => Object.keys(s)).map((k) => SECURITY[k]!).filter(Boolean);
  const row = AUTH_BY_PATH.find(([re]) => re.test(path));
  if (row) return row[1];
  return PUBLIC[`${method} ${path}`] !== undefined ? [] : undefined;
}

/** Every path + method of openapi.yaml; `unclassified` lists those nobody said how to enter. */
export function loadEndpoints(): { endpoints: Endpoint[]; unclassified: string[] } {
  const endpoints: Endpoint[] = [];
  const unclassified: string[] = [];
  for (const [path, item] of Object.entries(openapi.paths as Record<string, Record<string, any>>)) {
    for (const m of METHODS) {
      const op = item[m];
      if (!op) continue;
      const method = m.toUpperCase();
      const auth = authOf(method, path, op);
      if (!auth) {
        unclassified.push(`${method} ${path}`);
        continue;
      }
      const params = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p) => resolve<{ in: string; name: string; schema?: ParamSchema }>(p));
      const requestBody = resolve<{ required?: boolean; content?: Record<string, { schema?: unknown }> } | undefined>(op.requestBody);
      const content = requestBody?.content;
      const bodySchema = content?.['application/json']?.schema;
      const responses: Endpoint['responses'] = {};
      for (const [status, r] of Object.entries(op.responses ?? {})) {
        const ref = (r as { $ref?: string }).$ref;
        const resolved = resolve<{ content?: Record<string, { schema?: { $ref?: string } }> }>(r);
        const types = Object.keys(resolved.content ?? {});
        const envelope = ref === '#/components/responses/Error' || resolved.content?.['application/json']?.schema?.$ref === '#/components/schemas/Error';
        responses[status] = { envelope, html: types.includes('text/html') };
      }
      endpoints.push({
        id: `${method} ${path}`, method, path,
        pathParams: [...path.matchAll(/\{(\w+)\}/g)].map((x) => x[1]!),
        queryParams: params.filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: p.schema ?? {} })),
        body: bodySchema ? deepResolve(bodySchema) as BodySchema : undefined,
        bodyRequired: requestBody === undefined || requestBody.required === true,
        responses,
        auth,
      });
    }
  }
  return { endpoints, unclassified };
}

function deepResolve(node: unknown, depth = 0): unknown {
  const value = resolve<unknown>(node);
  if (depth > 8 || !value || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => deepResolve(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, deepResolve(v, depth + 1)]));
}

export function fillPath(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    if (values[name] === undefined) throw new Error(`no value for {${name}} in ${template}`);
    return values[name]!;
  });
}

// ─── The world: one app with a valid credential for every way in ────────────────────────────────

export interface OutgoingRequest {
  method: string;
  /** Path and query exactly as they go on the wire. */
  target: string;
  body: Buffer | undefined;
}

export interface DirectShop {
  storeId: string;
  apiKey: string;
  connectionId: string;
  ipnSecret: string;
  gatewayApiKey: string;
  payment: { id: string; ref: string; gatewayPaymentId: string };
}

export interface World {
  t: TestApp;
  shopify: {
    emu: ShopifyEmulator; app: { clientId: string; secret: string }; shop: string; storeId: string;
    /** The payment of a crypto order placed in the shop (its webhook made it). */
    paymentId: string;
    /** With `secondShopifyApp`: another app registration, and a shop installed through it. */
    other?: { app: { clientId: string; secret: string }; shop: string; storeId: string };
  } | undefined;
  woo: { emu: WooCommerceEmulator; storeId: string; apiKey: string; webhookSecret: string; pendingNonce: string } | undefined;
  /** Direct stores, one per gateway, each with a sandbox connection and one payment. */
  paymento: DirectShop;
  cryptoCheckout: DirectShop;
  cryptoNow: DirectShop;
  operator: AdminClient & { email: string; password: string };
  supportUserId: string;
  /** Headers that authenticate `req` as `kind` (signatures are computed over its exact bytes). */
  authHeaders(kind: AuthKind, req: OutgoingRequest): Record<string, string>;
  /** Path values that reach past the router and the lookups, for `kind`. */
  fixturePath(endpoint: Endpoint, kind: AuthKind | 'none'): Record<string, string>;
  /** A secret the suite planted or was given; no log line may contain it. */
  plant(label: string, value: string): void;
  planted(): [string, string][];
  /** Every log line the app wrote so far. */
  logText(): string;
  close(): Promise<void>;
}

const hmac = (secret: string, data: string | Buffer) => crypto.createHmac('sha256', secret).update(data);

/**
 * Starts the app (and, when asked, the Shopify and WooCommerce emulators), and makes one of
 * everything. Distinctive values are planted where the suite may choose them (passwords, the
 * setup token, the Shopify app secret, a shopper's email); the rest are recorded as the product
 * makes them.
 */
export async function startWorld(opts: { env?: Record<string, string>; shopify?: boolean; secondShopifyApp?: boolean; woo?: boolean } = {}): Promise<World> {
  const secrets = new Map<string, string>();
  const plant = (label: string, value: string) => { if (value) secrets.set(value, label); };
  const mark = (what: string) => `planted-${what}-${crypto.randomBytes(9).toString('hex')}`;
  const setupToken = mark('setup-token');
  const staffPassword = mark('staff-password');
  const shopperEmail = `${mark('shopper')}@shopper.example`;
  plant('ADMIN_SETUP_TOKEN', setupToken);
  plant('staff password', staffPassword);
  plant('shopper email', shopperEmail);

  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    let shopifyEmu: ShopifyEmulator | undefined;
    let shopifyApp: { clientId: string; secret: string } | undefined;
    const env: Record<string, string> = {
      LOG_LEVEL: 'trace', ADMIN_SETUP_TOKEN: setupToken, RATE_LIMIT_PER_MINUTE: '1000000', RECONCILE_EVERY: '1 day', ...opts.env,
    };
    if (opts.shopify) {
      shopifyEmu = await startShopifyEmulator({ retryDelaysMs: [50, 100] });
      closers.push(() => shopifyEmu!.close());
      shopifyApp = shopifyEmu.addApp({ secret: mark('shopify-app-secret') });
      plant('Shopify app secret', shopifyApp.secret);
      Object.assign(env, { SHOPIFY_ADMIN_ORIGIN: shopifyEmu.origin, SHOPIFY_API_KEY: shopifyApp.clientId, SHOPIFY_API_SECRET: shopifyApp.secret });
    }
    let wooEmu: WooCommerceEmulator | undefined;
    if (opts.woo) {
      wooEmu = await startWooCommerceEmulator({ allowInsecureCallback: true });
      closers.push(() => wooEmu!.close());
    }
    const t = await startTestApp(env);
    closers.push(() => t.close());
    plant('ENCRYPTION_KEY', t.env.ENCRYPTION_KEY!);

    const direct = async (gateway: 'paymento' | 'crypto-checkout' | 'cryptonow'): Promise<DirectShop> => {
      const store = await createStore(t.app.db.pool, { name: `Corpus ${gateway}` });
      const conn = await connectGateway({ db: t.app.db, box: t.app.box, gateways: t.app.gateways, publicUrl: t.app.config.publicUrl, allowPrivateUrls: true },
        { storeId: store.id, gateway, mode: 'sandbox' });
      const apiKey = await issueApiKey(t.app.db.pool, store.id);
      const created = await api(t, 'POST', '/v1/payments', { key: apiKey, body: paymentBody(`CORPUS-${gateway}`, { customerEmail: shopperEmail }) });
      if (created.status !== 201) throw new Error(`fixture payment on ${gateway}: ${created.status} ${JSON.stringify(created.body)}`);
      const { rows } = await t.app.db.pool.query('SELECT gateway_payment_id FROM payments WHERE id = $1', [created.body.id]);
      plant(`${gateway} store API key`, apiKey);
      plant(`${gateway} sandbox API key`, conn.credentials.apiKey);
      plant(`${gateway} callback secret`, conn.credentials.ipnSecret);
      return {
        storeId: store.id, apiKey, connectionId: conn.id, ipnSecret: conn.credentials.ipnSecret, gatewayApiKey: conn.credentials.apiKey,
        payment: { id: created.body.id, ref: created.body.ref, gatewayPaymentId: rows[0].gateway_payment_id },
      };
    };
    const paymento = await direct('paymento');
    const cryptoCheckout = await direct('crypto-checkout');
    const cryptoNow = await direct('cryptonow');

    const operatorStaff = await createStaff(t, { role: 'operator', password: staffPassword });
    const operator = await signIn(t, operatorStaff.email, staffPassword);
    plant('staff session cookie', operator.session);
    plant('CSRF token', operator.csrf);
    const support = await createStaff(t, { role: 'support', password: staffPassword, storeIds: [paymento.storeId] });

    let shopify: World['shopify'];
    if (shopifyEmu && shopifyApp) {
      const withShopify = { emu: shopifyEmu, t, app: shopifyApp, close: async () => undefined };
      const shop = 'corpus-shop.myshopify.com';
      const { storeId } = await installShop(withShopify, shop);
      const order = await placeOrder(withShopify, shop, { email: shopperEmail });
      const payment = await paymentForOrder(withShopify, order.id);
      shopify = { emu: shopifyEmu, app: shopifyApp, shop, storeId, paymentId: payment.id };
      if (opts.secondShopifyApp) {
        const app = shopifyEmu.addApp({ secret: mark('second-shopify-app-secret') });
        plant('second Shopify app secret', app.secret);
        await saveShopifyApp(t.app.db.pool, t.app.box, app);
        const other = 'corpus-other.myshopify.com';
        shopify.other = { app, shop: other, storeId: (await installShop(withShopify, other, { app })).storeId };
      }
    }
    let woo: World['woo'];
    if (wooEmu) {
      const { storeId, apiKey } = await connectStore({ emu: wooEmu, t, close: async () => undefined });
      const stored = (await findWooStore(t.app.db.pool, t.app.box, storeId))!;
      const pending = await beginConnect({ emu: wooEmu, t, close: async () => undefined });
      const callback = new URL(new URL(pending.res.headers.get('location')!).searchParams.get('callback_url')!);
      woo = { emu: wooEmu, storeId, apiKey, webhookSecret: stored.webhookSecret, pendingNonce: callback.pathname.split('/').pop()! };
      plant('WooCommerce store API key', apiKey);
      plant('WooCommerce webhook secret', stored.webhookSecret);
      plant('WooCommerce claim secret', pending.claimSecret);
    }

    // Everything set-up queued has run; then the workers stop, so from here on every write to the
    // database was caused by a request the suite sent (recordWrites relies on this). A test that
    // follows a payment through its callbacks starts them again (t.app.jobs.start()).
    await waitFor('set-up jobs to finish', async () => {
      const { rows } = await t.app.db.pool.query(
        `SELECT count(*)::int AS n FROM agenda_jobs WHERE locked_at IS NOT NULL
            OR (next_run_at <= now() AND failed_at IS NULL AND name NOT IN ('payments.reconcile', 'woocommerce.reconcile'))`);
      return rows[0].n === 0;
    }, 20_000);
    await t.app.jobs?.stop();

    const plantGenerated = () => {
      for (const tok of shopifyEmu?.tokens ?? []) {
        plant('Shopify access token', tok.accessToken);
        if (tok.refreshToken) plant('Shopify refresh token', tok.refreshToken);
      }
      for (const key of wooEmu?.keys ?? []) {
        plant('WooCommerce consumer key', key.consumerKey);
        plant('WooCommerce consumer secret', key.consumerSecret);
      }
    };

    const ipn = (shop: DirectShop, gateway: string) => ({ gateway, connectionId: shop.connectionId });
    const world: World = {
      t, shopify, woo, paymento, cryptoCheckout, cryptoNow,
      operator: { ...operator, email: operatorStaff.email, password: staffPassword },
      supportUserId: support.userId,

      authHeaders(kind, req): Record<string, string> {
        const body = req.body ?? Buffer.alloc(0);
        switch (kind) {
          case 'storeApiKey': return { authorization: `Bearer ${paymento.apiKey}` };
          case 'wooStoreKey': return { authorization: `Bearer ${woo!.apiKey}` };
          case 'staffSession': return { cookie: operator.cookie, 'x-csrf-token': operator.csrf };
          case 'shopifySession':
          case 'shopifyCheckout': {
            const token = shopify!.emu.sessionToken(shopify!.app.clientId, shopify!.shop);
            plant('Shopify session token', token);
            return { authorization: `Bearer ${token}` };
          }
          case 'shopifyWebhook':
            return {
              'x-shopify-topic': 'orders/create', 'x-shopify-shop-domain': shopify!.shop, 'x-shopify-api-version': '2025-10',
              'x-shopify-webhook-id': crypto.randomUUID(), 'x-shopify-hmac-sha256': hmac(shopify!.app.secret, body).digest('base64'),
            };
          case 'wooWebhook':
            return {
              'x-wc-webhook-topic': 'order.updated', 'x-wc-webhook-delivery-id': crypto.randomBytes(16).toString('hex'),
              'x-wc-webhook-signature': hmac(woo!.webhookSecret, body).digest('base64'),
            };
          case 'ipnPaymento': return { 'x-hmac-sha256-signature': hmac(paymento.ipnSecret, body).digest('hex') };
          case 'ipnCryptoCheckout': {
            const ts = String(Math.floor(Date.now() / 1000));
            return { 'x-webhook-signature': `t=${ts},v1=${hmac(cryptoCheckout.ipnSecret, Buffer.concat([Buffer.from(`${ts}.`), body])).digest('hex')}` };
          }
          case 'ipnCryptoNow': return { 'x-signature': hmac(cryptoNow.ipnSecret, body).digest('hex') };
          case 'sandboxPaymento': return { 'api-key': paymento.gatewayApiKey };
          case 'sandboxCryptoCheckout': return { authorization: `Bearer ${cryptoCheckout.gatewayApiKey}` };
          case 'sandboxCryptoNow':
            // CryptoNow's (assumed) construction: HMAC of the body, or of the request target when there is none.
            return { 'x-public-key': cryptoNow.gatewayApiKey, 'x-signature': hmac(cryptoNow.ipnSecret, body.length ? body : req.target).digest('hex') };
        }
      },

      fixturePath(endpoint, kind) {
        const target = kind === 'ipnCryptoCheckout' ? ipn(cryptoCheckout, 'crypto-checkout') : kind === 'ipnCryptoNow' ? ipn(cryptoNow, 'cryptonow') : ipn(paymento, 'paymento');
        const byName: Record<string, string> = {
          id: paymento.payment.id, ref: paymento.payment.ref, file: 'checkout.js', nonce: woo?.pendingNonce ?? 'no-woo', storeId: woo?.storeId ?? crypto.randomUUID(),
          sessionKey: cryptoNow.payment.gatewayPaymentId, token: paymento.payment.gatewayPaymentId, jobId: crypto.randomUUID(),
          // A real action would play the scenario (and pay the payment): the corpus must never do that.
          action: 'steal',
          ...target,
        };
        // A Shopify merchant sees only its shop's store: aim its requests there, past the visibility check.
        const viaShopify = kind === 'shopifySession' && shopify !== undefined;
        if (endpoint.path.startsWith('/v1/admin/payments/') && viaShopify) byName.id = shopify!.paymentId;
        if (endpoint.path.startsWith('/v1/admin/stores/')) byName.id = viaShopify ? shopify!.storeId : paymento.storeId;
        if (endpoint.path.startsWith('/v1/admin/users/')) byName.id = support.userId;
        if (endpoint.path === '/admin/assets/{file}') byName.file = 'console.js';
        if (endpoint.path.startsWith('/sandbox/crypto-checkout/')) byName.id = cryptoCheckout.payment.gatewayPaymentId;
        return Object.fromEntries(endpoint.pathParams.map((p) => [p, byName[p] ?? 'x']));
      },

      plant,
      planted() {
        plantGenerated();
        return [...secrets.entries()].map(([value, label]) => [label, value]);
      },
      logText: () => t.logs.join(''),
      close,
    };
    return world;
  } catch (err) {
    await close();
    throw err;
  }
}

/** The planted secrets found in `text`, each named with one line that shows it. */
export function leakedSecrets(text: string, planted: [string, string][]): string[] {
  const lines = text.split('\n');
  const leaks: string[] = [];
  for (const [label, value] of planted) {
    if (value.length < 12) throw new Error(`${label} is too short to search for`);
    const line = lines.find((l) => l.includes(value));
    if (line) leaks.push(`${label} in: ${line.slice(0, 300)}`);
  }
  return leaks;
}

// ─── Sending and watching ──────────────────────────────────────────────────────────────────────

export interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

/** One request with fetch; event streams are read only up to their headers. */
export async function sendFetch(base: string, req: OutgoingRequest, headers: Record<string, string>): Promise<Answer> {
  const res = await fetch(base + req.target, {
    method: req.method, headers, redirect: 'manual', signal: AbortSignal.timeout(20_000),
    ...(req.body !== undefined && req.method !== 'GET' ? { body: req.body as unknown as BodyInit } : {}),
  });
  const out: Record<string, string> = {};
  res.headers.forEach((v, k) => { out[k] = v; });
  for (const c of res.headers.getSetCookie()) out[`set-cookie#${c.slice(0, 20)}`] = c;
  if ((out['content-type'] ?? '').startsWith('text/event-stream')) {
    await res.body?.cancel();
    return { status: res.status, headers: out, text: '' };
  }
  return { status: res.status, headers: out, text: await res.text() };
}

/** Bytes as they are, for what fetch refuses to send; `Connection: close` ends the answer. */
export function sendRaw(base: string, bytes: Buffer): Promise<Answer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => { socket.destroy(); reject(new Error('raw request: no answer within 20 s')); }, 20_000);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      // An event stream stays open: its head is the answer.
      const head = Buffer.concat(chunks).toString('latin1');
      if (head.includes('\r\n\r\n') && /\r\ncontent-type: text\/event-stream/i.test(head.slice(0, head.indexOf('\r\n\r\n')))) socket.destroy();
    });
    socket.on('error', () => { /* a reset after the answer is fine; 'close' follows */ });
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      if (!m) return reject(new Error(`raw request: no HTTP answer (${JSON.stringify(text.slice(0, 100))})`));
      const end = text.indexOf('\r\n\r\n');
      const headers: Record<string, string> = {};
      for (const line of text.slice(0, end).split('\r\n').slice(1)) {
        const i = line.indexOf(':');
        const name = line.slice(0, i).trim().toLowerCase();
        headers[name === 'set-cookie' ? `set-cookie#${Object.keys(headers).length}` : name] = line.slice(i + 1).trim();
      }
      resolve({ status: Number(m[1]), headers, text: end < 0 ? '' : text.slice(end + 4) });
    });
    socket.write(bytes);
  });
}

/** Every table the migrations create, plus Agenda's job table (a request's later effects start there). */
export function productTables(): string[] {
  const dir = new URL('../../src/db/migrations/', import.meta.url);
  const names = new Set<string>(['agenda_jobs']);
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.sql'))) {
    for (const m of fs.readFileSync(new URL(file, dir), 'utf8').matchAll(/CREATE TABLE (?:IF NOT EXISTS )?(\w+)/gi)) names.add(m[1]!);
  }
  return [...names].sort();
}

export interface Write {
  table: string;
  op: 'INSERT' | 'UPDATE' | 'DELETE';
  /** UPDATE: the columns that changed; agenda_jobs: also the job's name. */
  detail: string;
}

/**
 * Records every row written to the product's tables, by a trigger per table. Row counts alone
 * would miss updates, and rows a job inserts and removes again (Agenda deletes finished jobs).
 */
export async function recordWrites(t: TestApp): Promise<{ since(): Promise<Write[]>; counts(): Promise<Record<string, number>> }> {
  const pool = t.app.db.pool;
  const tables = productTables();
  await pool.query(`CREATE TABLE corpus_writes (id bigserial PRIMARY KEY, tbl text NOT NULL, op text NOT NULL, detail text NOT NULL)`);
  await pool.query(`CREATE FUNCTION corpus_record() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE d text := '';
    BEGIN
      IF TG_OP = 'UPDATE' THEN
        SELECT coalesce(string_agg(n.key, ',' ORDER BY n.key), '') INTO d FROM jsonb_each(to_jsonb(NEW)) n WHERE n.value IS DISTINCT FROM (to_jsonb(OLD) -> n.key);
      END IF;
      IF TG_TABLE_NAME = 'agenda_jobs' THEN
        d := d || ' job=' || coalesce(CASE WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD) ->> 'name' ELSE to_jsonb(NEW) ->> 'name' END, '?');
      END IF;
      INSERT INTO corpus_writes (tbl, op, detail) VALUES (TG_TABLE_NAME, TG_OP, trim(d));
      RETURN NULL;
    END $$`);
  for (const table of tables) {
    await pool.query(`CREATE TRIGGER corpus_record AFTER INSERT OR UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION corpus_record()`);
  }
  let last = 0;
  return {
    async since() {
      const { rows } = await pool.query('SELECT id::int, tbl, op, detail FROM corpus_writes WHERE id > $1 ORDER BY id', [last]);
      if (rows.length) last = rows.at(-1).id;
      return rows.map((r) => ({ table: r.tbl, op: r.op, detail: r.detail }));
    },
    async counts() {
      const { rows } = await pool.query(`SELECT ${tables.map((n) => `(SELECT count(*)::int FROM ${n}) AS ${n}`).join(', ')}`);
      return rows[0];
    },
  };
}
