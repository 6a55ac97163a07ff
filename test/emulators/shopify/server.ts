/**
 * A Shopify emulator: a real HTTP server that speaks the parts of Shopify Coinbridge uses
 * (OAuth authorize + code grant, expiring offline tokens and refresh, token exchange of a session
 * token, a small slice of the Admin GraphQL API with cost-based throttling) and a webhook sender
 * that signs and retries like Shopify. Facts: /work/shared/reference/platforms.md (Shopify).
 *
 * Routing: Coinbridge's test seam sends what would go to `https://{shop}/admin/...` to
 * `${origin}/admin/...` with the shop's domain in `x-shopify-shop-domain` (fetch cannot set Host).
 * The authorize page also accepts the shop as a `shop` query parameter.
 *
 * Tests drive it through plain methods (addApp, addShop, createOrder, throttleNext, failNext,
 * deliverWebhook, ...), not over HTTP.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import { listenOnLoopback, logged, type LoggedRequest, readBody, Sleepers } from '../loopback.ts';

export type { LoggedRequest };

export interface Installation {
  shop: string;
  clientId: string;
  scope: string;
  installedAt: number;
  via: 'authorization_code' | 'token_exchange';
}

export interface IssuedToken {
  accessToken: string;
  clientId: string;
  shop: string;
  scope: string;
  online: boolean;
  grant: 'authorization_code' | 'token_exchange' | 'refresh_token';
  /** Epoch ms; null for a non-expiring offline token. */
  expiresAt: number | null;
  refreshToken: string | null;
  refreshExpiresAt: number | null;
  revoked: boolean;
}

export interface EmulatedTransaction {
  id: string;
  kind: 'SALE' | 'AUTHORIZATION' | 'CAPTURE';
  status: 'PENDING' | 'SUCCESS';
  /** Decimal string, e.g. "25.5". */
  amount: string;
  currency: string;
  gateway: string;
  parentId: string | null;
  manuallyCapturable: boolean;
}

export interface EmulatedOrder {
  id: string;
  shop: string;
  name: string;
  total: string;
  currency: string;
  gateway: string;
  email: string | null;
  customerId: number | null;
  createdAt: string;
  cancelledAt: string | null;
  /** The arguments orderCancel was called with. */
  cancel: Record<string, unknown> | null;
  tags: string[];
  metafields: Array<{ namespace: string; key: string; type: string; value: string }>;
  transactions: EmulatedTransaction[];
}

export interface WebhookSubscription {
  id: string;
  shop: string;
  clientId: string;
  topic: string;
  callbackUrl: string;
  format: string;
}

export interface WebhookDelivery {
  shop: string;
  topic: string;
  url: string;
  attempt: number;
  webhookId: string;
  eventId: string;
  triggeredAt: string;
  /** Exactly what was sent. */
  body: string;
  hmac: string;
  httpStatus?: number;
  error?: string;
  responseBody?: string;
}

export type SessionTokenVariant = 'valid' | 'expired' | 'not-yet-valid' | 'wrong-aud' | 'wrong-dest' | 'alg-none' | 'bad-signature';

export interface ShopifyEmulatorOptions {
  /** Delays between webhook attempts; 8 entries = Shopify's 8 retries (over 4 h there; tiny here). */
  retryDelaysMs?: number[];
  /** Total time allowed per webhook attempt (Shopify: 5 s). */
  webhookTimeoutMs?: number;
  /** Leaky bucket per shop. */
  bucketSize?: number;
  restoreRate?: number;
  queryCost?: number;
  mutationCost?: number;
  /** Lifetime of expiring offline access tokens, seconds (Shopify: 3600) and refresh tokens. */
  accessTokenTtlS?: number;
  refreshTokenTtlS?: number;
}

export interface ShopifyEmulator {
  readonly origin: string;
  readonly requests: LoggedRequest[];
  readonly installations: Installation[];
  readonly tokens: IssuedToken[];
  readonly deliveries: WebhookDelivery[];
  readonly webhookSubscriptions: WebhookSubscription[];
  addApp(opts?: { clientId?: string; secret?: string; scopes?: string; redirectUris?: string[] }): { clientId: string; secret: string };
  addShop(domain: string): void;
  /** A pending, manually capturable transaction, as a manual payment method leaves. */
  createOrder(shop: string, opts: { total: string; currency: string; gateway?: string; kind?: 'SALE' | 'AUTHORIZATION'; name?: string; email?: string; customerId?: number }): { id: string; transactionId: string; name: string };
  /** The order as Shopify's order webhooks carry it (the REST order resource). */
  orderPayload(id: string): Record<string, unknown>;
  /**
   * Sends a webhook to every subscription the shop's installed apps made for the topic (API
   * registrations), signed with each app's secret; one event id across them, as Shopify does.
   */
  emit(shop: string, topic: string, payload: unknown, opts?: { eventId?: string }): Promise<Array<{ delivered: boolean; attempts: number; webhookId: string; eventId: string }>>;
  /** A copy of the stored order (throws for an unknown id). */
  order(id: string): EmulatedOrder;
  /** Cancels the order out of band, as a merchant in the admin would. */
  cancelOrder(id: string): void;
  /** A session token (App Bridge id token) for the app and shop; variants for negative tests. */
  sessionToken(clientId: string, shop: string, opts?: { variant?: SessionTokenVariant; sub?: string }): string;
  /** The redirect URL an authorize request would produce, signed with the app secret. */
  signQuery(clientId: string, params: Record<string, string>): string;
  revokeToken(accessToken: string): void;
  throttleNext(n: number): void;
  failNext(n: number, status?: number): void;
  /** Moves the emulator's clock (codes, tokens, session tokens, throttling). */
  advanceTime(ms: number): void;
  now(): number;
  deliverWebhook(shop: string, topic: string, payload: unknown, opts: {
    url: string; secret: string; webhookId?: string; eventId?: string; apiVersion?: string; triggeredAt?: string;
  }): Promise<{ delivered: boolean; attempts: number; webhookId: string; eventId: string }>;
  close(): Promise<void>;
}

export const SHOP_DOMAIN = /^[a-zA-Z0-9][a-zA-Z0-9-_]*\.(myshopify\.com|shopify\.com|myshopify\.io|shop\.dev)[/]*$/;
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
export const OFFLINE_TOKEN_TYPE = 'urn:shopify:params:oauth:token-type:offline-access-token';
export const ONLINE_TOKEN_TYPE = 'urn:shopify:params:oauth:token-type:online-access-token';
const CODE_TTL_MS = 60_000;
const JWT_TOLERANCE_S = 10;
const MAX_BODY = 1_000_000;
const DEFAULT_GATEWAY = 'Crypto (USDC, BTC…)';

function randomHex(bytes: number): string {
  return crypto.randomBytes(bytes).toString('hex');
}

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

/** Shopify's OAuth/app-proxy query signature: hex HMAC over sorted `k=v` joined with `&`, minus hmac/signature. */
export function signShopifyQuery(secret: string, params: Record<string, string>): string {
  const message = Object.keys(params)
    .filter((k) => k !== 'hmac' && k !== 'signature')
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
  return crypto.createHmac('sha256', secret).update(message, 'utf8').digest('hex');
}

// ---- money: decimal strings as BigInt micro-units ----
const SCALE = 1_000_000n;
function parseMoney(v: unknown): bigint | null {
  const s = typeof v === 'number' ? String(v) : v;
  if (typeof s !== 'string' || !/^\d{1,15}(\.\d{1,6})?$/.test(s)) return null;
  const [whole = '0', frac = ''] = s.split('.');
  return BigInt(whole) * SCALE + BigInt(frac.padEnd(6, '0'));
}
/** Shopify's Decimal rendering: "100.0", "12.5", "12.34". */
function formatMoney(v: bigint): string {
  const whole = v / SCALE;
  const frac = (v % SCALE).toString().padStart(6, '0').replace(/0+$/, '');
  return `${whole}.${frac || '0'}`;
}

// ---- a very small GraphQL reader: root fields with their arguments ----
interface RootField { alias: string; name: string; args: Record<string, unknown> }

class GraphqlSyntaxError extends Error {}

function parseOperation(query: string, variables: Record<string, unknown>): { type: 'query' | 'mutation'; fields: RootField[] } {
  const src = query.replace(/#[^\n]*/g, '');
  let i = 0;
  const ws = () => { while (i < src.length && /[\s,]/.test(src[i]!)) i++; };
  const name = (): string => {
    ws();
    const m = /^[_A-Za-z][_0-9A-Za-z]*/.exec(src.slice(i));
    if (!m) throw new GraphqlSyntaxError(`Expected a name at ${i}`);
    i += m[0].length;
    return m[0];
  };
  const expect = (c: string) => { ws(); if (src[i] !== c) throw new GraphqlSyntaxError(`Expected "${c}" at ${i}`); i++; };
  const skipBalanced = (open: string, close: string) => {
    expect(open);
    let depth = 1;
    while (i < src.length && depth > 0) {
      const c = src[i]!;
      if (c === '"') { i++; while (i < src.length && src[i] !== '"') i += src[i] === '\\' ? 2 : 1; }
      else if (c === open) depth++;
      else if (c === close) depth--;
      i++;
    }
    if (depth > 0) throw new GraphqlSyntaxError('Unbalanced braces');
  };
  const value = (): unknown => {
    ws();
    const c = src[i];
    if (c === '$') { i++; return variables[name()]; }
    if (c === '"') {
      const m = /^"(?:[^"\\]|\\.)*"/.exec(src.slice(i));
      if (!m) throw new GraphqlSyntaxError('Unterminated string');
      i += m[0].length;
      return JSON.parse(m[0]) as string;
    }
    if (c === '[') {
      i++;
      const list: unknown[] = [];
      for (ws(); src[i] !== ']'; ws()) { if (i >= src.length) throw new GraphqlSyntaxError('Unterminated list'); list.push(value()); }
      i++;
      return list;
    }
    if (c === '{') {
      i++;
      const obj: Record<string, unknown> = {};
      for (ws(); src[i] !== '}'; ws()) { if (i >= src.length) throw new GraphqlSyntaxError('Unterminated object'); const k = name(); expect(':'); obj[k] = value(); }
      i++;
      return obj;
    }
    const num = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(src.slice(i));
    if (num) { i += num[0].length; return Number(num[0]); }
    const word = name();
    return word === 'true' ? true : word === 'false' ? false : word === 'null' ? null : word; // enums stay strings
  };

  ws();
  let type: 'query' | 'mutation' = 'query';
  if (src[i] !== '{') {
    const kw = name();
    if (kw !== 'query' && kw !== 'mutation') throw new GraphqlSyntaxError(`Unsupported operation type "${kw}"`);
    type = kw;
    ws();
    if (src[i] !== '{' && src[i] !== '(') name(); // operation name
    ws();
    if (src[i] === '(') skipBalanced('(', ')'); // variable definitions
  }
  expect('{');
  const fields: RootField[] = [];
  for (ws(); src[i] !== '}'; ws()) {
    if (i >= src.length) throw new GraphqlSyntaxError('Unterminated selection set');
    let alias = name();
    let field = alias;
    ws();
    if (src[i] === ':') { i++; field = name(); }
    else alias = field;
    const args: Record<string, unknown> = {};
    ws();
    if (src[i] === '(') {
      i++;
      for (ws(); src[i] !== ')'; ws()) { if (i >= src.length) throw new GraphqlSyntaxError('Unterminated arguments'); const k = name(); expect(':'); args[k] = value(); }
      i++;
    }
    ws();
    if (src[i] === '{') skipBalanced('{', '}');
    fields.push({ alias, name: field, args });
  }
  return { type, fields };
}

interface App { clientId: string; secret: string; scopes: string; redirectUris: string[] | null }
interface AuthCode { code: string; clientId: string; shop: string; scope: string; online: boolean; expiresAt: number; used: boolean }
interface Bucket { available: number; updatedAt: number }

class OAuthFail extends Error {
  readonly error: string;
  constructor(error: string, description: string) {
    super(description);
    this.error = error;
  }
}

export async function startShopifyEmulator(opts: ShopifyEmulatorOptions = {}): Promise<ShopifyEmulator> {
  const retryDelays = opts.retryDelaysMs ?? [1, 2, 4, 8, 16, 32, 64, 128];
  const webhookTimeoutMs = opts.webhookTimeoutMs ?? 5_000;
  const bucketSize = opts.bucketSize ?? 1000;
  const restoreRate = opts.restoreRate ?? 50;
  const queryCost = opts.queryCost ?? 10;
  const mutationCost = opts.mutationCost ?? 10;
  const accessTtlS = opts.accessTokenTtlS ?? 3600;
  const refreshTtlS = opts.refreshTokenTtlS ?? 90 * 24 * 3600;

  const apps = new Map<string, App>();
  const shops = new Set<string>();
  const codes = new Map<string, AuthCode>();
  const orders = new Map<string, EmulatedOrder>();
  const buckets = new Map<string, Bucket>();
  const requests: LoggedRequest[] = [];
  const installations: Installation[] = [];
  const tokens: IssuedToken[] = [];
  const deliveries: WebhookDelivery[] = [];
  const webhookSubscriptions: WebhookSubscription[] = [];
  const failures: number[] = [];
  let throttled = 0;
  let clockOffset = 0;
  let nextId = 1000;
  let nextOrderNumber = 1001;
  let closed = false;

  const sleepers = new Sleepers();
  const outbound = new AbortController();

  const now = () => Date.now() + clockOffset;

  const sleep = (ms: number): Promise<void> => sleepers.sleep(ms);

  function appOf(clientId: string): App {
    const app = apps.get(clientId);
    if (!app) throw new Error(`Shopify emulator: unknown app ${clientId}`);
    return app;
  }

  function storedOrder(id: string): EmulatedOrder {
    const o = orders.get(id);
    if (!o) throw new Error(`Shopify emulator: no order ${id}`);
    return o;
  }

  function shopName(shop: string): string {
    return shop.replace(/\/+$/, '').split('.')[0]!;
  }

  // ---- session tokens (HS256 JWT) ----

  function mintJwt(header: Record<string, unknown>, payload: Record<string, unknown>, secret: string | null): string {
    const head = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
    const sig = secret === null ? '' : crypto.createHmac('sha256', secret).update(head).digest('base64url');
    return `${head}.${sig}`;
  }

  function sessionToken(clientId: string, shop: string, o: { variant?: SessionTokenVariant; sub?: string } = {}): string {
    const app = appOf(clientId);
    const variant = o.variant ?? 'valid';
    const t = Math.floor(now() / 1000);
    const shift = variant === 'expired' ? -120 : variant === 'not-yet-valid' ? 120 : 0;
    const payload = {
      iss: `https://${shop}/admin`,
      dest: variant === 'wrong-dest' ? 'https://someone-else.myshopify.com' : `https://${shop}`,
      aud: variant === 'wrong-aud' ? `${clientId}x` : clientId,
      sub: o.sub ?? '42',
      exp: t + shift + 60,
      nbf: t + shift,
      iat: t + shift,
      jti: crypto.randomUUID(),
      sid: randomHex(16),
    };
    if (variant === 'alg-none') return mintJwt({ alg: 'none', typ: 'JWT' }, payload, null);
    return mintJwt({ alg: 'HS256', typ: 'JWT' }, payload, variant === 'bad-signature' ? `${app.secret}x` : app.secret);
  }

  /** Verifies a session token the way shopify-api's decodeSessionToken does; returns its shop. */
  function verifySessionToken(token: string, app: App): string {
    const parts = token.split('.');
    if (parts.length !== 3) throw new OAuthFail('invalid_subject_token', 'Subject token is not a JWT');
    const [h = '', p = '', s = ''] = parts;
    let header: Record<string, unknown>;
    let payload: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>;
      payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new OAuthFail('invalid_subject_token', 'Subject token is malformed');
    }
    if (header.alg !== 'HS256') throw new OAuthFail('invalid_subject_token', `Unsupported algorithm ${String(header.alg)}`);
    const expected = crypto.createHmac('sha256', app.secret).update(`${h}.${p}`).digest();
    const given = Buffer.from(s, 'base64url');
    if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) throw new OAuthFail('invalid_subject_token', 'Subject token signature is invalid');
    const t = now() / 1000;
    if (typeof payload.exp !== 'number' || payload.exp + JWT_TOLERANCE_S < t) throw new OAuthFail('invalid_subject_token', 'Subject token has expired');
    if (typeof payload.nbf === 'number' && payload.nbf - JWT_TOLERANCE_S > t) throw new OAuthFail('invalid_subject_token', 'Subject token is not yet valid');
    if (payload.aud !== app.clientId) throw new OAuthFail('invalid_subject_token', 'Subject token audience does not match the client');
    const dest = typeof payload.dest === 'string' ? payload.dest : '';
    const m = /^https:\/\/([^/]+)$/.exec(dest);
    if (!m || !shops.has(m[1]!)) throw new OAuthFail('invalid_subject_token', 'Subject token destination is not a known shop');
    return m[1]!;
  }

  // ---- tokens ----

  function issue(app: App, shop: string, scope: string, grant: IssuedToken['grant'], o: { online?: boolean; expiring?: boolean }): IssuedToken {
    const t = now();
    const expiring = o.expiring === true && !o.online;
    const token: IssuedToken = {
      accessToken: `shpat_${randomHex(16)}`,
      clientId: app.clientId,
      shop,
      scope,
      online: o.online === true,
      grant,
      expiresAt: o.online ? t + 86_399_000 : expiring ? t + accessTtlS * 1000 : null,
      refreshToken: expiring ? `shprt_${randomHex(16)}` : null,
      refreshExpiresAt: expiring ? t + refreshTtlS * 1000 : null,
      revoked: false,
    };
    if (token.online) token.accessToken = `shpua_${randomHex(16)}`;
    tokens.push(token);
    return token;
  }

  function tokenBody(t: IssuedToken): Record<string, unknown> {
    const body: Record<string, unknown> = { access_token: t.accessToken, scope: t.scope };
    if (t.online) {
      body.expires_in = 86_399;
      body.associated_user_scope = t.scope;
      body.associated_user = { id: 42, first_name: 'Emu', last_name: 'Lated', email: 'staff@example.com', email_verified: true, account_owner: true, locale: 'en', collaborator: false };
    } else if (t.refreshToken) {
      body.expires_in = accessTtlS;
      body.refresh_token = t.refreshToken;
      body.refresh_token_expires_in = refreshTtlS;
    }
    return body;
  }

  function install(shop: string, clientId: string, scope: string, via: Installation['via']): void {
    const existing = installations.find((i) => i.shop === shop && i.clientId === clientId);
    if (existing) existing.scope = scope;
    else installations.push({ shop, clientId, scope, installedAt: now(), via });
  }

  function handleAccessToken(shop: string | null, params: Record<string, string>): Record<string, unknown> {
    const clientId = params.client_id ?? '';
    const app = apps.get(clientId);
    if (!app || params.client_secret !== app.secret) throw new OAuthFail('invalid_client', 'Client credentials are invalid');
    const expiring = params.expiring === '1' || params.expiring === 'true';
    const grant = params.grant_type ?? 'authorization_code';

    if (grant === 'authorization_code') {
      const code = codes.get(params.code ?? '');
      if (!code || code.used || code.clientId !== clientId || code.shop !== shop || code.expiresAt < now()) {
        if (code) code.used = true;
        throw new OAuthFail('invalid_request', 'The authorization code was not found or was already used');
      }
      code.used = true;
      install(code.shop, clientId, code.scope, 'authorization_code');
      return tokenBody(issue(app, code.shop, code.scope, 'authorization_code', { online: code.online, expiring }));
    }
    if (grant === 'refresh_token') {
      const old = tokens.find((t) => t.refreshToken !== null && t.refreshToken === params.refresh_token && t.clientId === clientId);
      if (!old || old.revoked || (old.refreshExpiresAt ?? 0) < now() || old.shop !== shop) throw new OAuthFail('invalid_grant', 'The refresh token is invalid or has expired');
      old.refreshToken = null; // single use: rotated
      return tokenBody(issue(app, old.shop, old.scope, 'refresh_token', { expiring: true }));
    }
    if (grant === TOKEN_EXCHANGE_GRANT) {
      if (params.subject_token_type !== ID_TOKEN_TYPE) throw new OAuthFail('invalid_request', 'subject_token_type must be an id_token');
      const requested = params.requested_token_type ?? OFFLINE_TOKEN_TYPE;
      if (requested !== OFFLINE_TOKEN_TYPE && requested !== ONLINE_TOKEN_TYPE) throw new OAuthFail('invalid_request', 'Unsupported requested_token_type');
      const tokenShop = verifySessionToken(params.subject_token ?? '', app);
      if (shop !== null && shop !== tokenShop) throw new OAuthFail('invalid_subject_token', 'Subject token destination does not match the shop');
      install(tokenShop, clientId, app.scopes, 'token_exchange');
      return tokenBody(issue(app, tokenShop, app.scopes, 'token_exchange', { online: requested === ONLINE_TOKEN_TYPE, expiring }));
    }
    throw new OAuthFail('unsupported_grant_type', `Unsupported grant_type ${grant}`);
  }

  function handleAuthorize(shop: string | null, q: URLSearchParams, res: http.ServerResponse): void {
    const app = apps.get(q.get('client_id') ?? '');
    const redirectUri = q.get('redirect_uri') ?? '';
    if (!shop) return sendJson(res, 404, { errors: 'Not Found' });
    if (!app) return sendText(res, 400, 'Oauth error invalid_request: The client_id is invalid');
    let redirect: URL;
    try { redirect = new URL(redirectUri); } catch { return sendText(res, 400, 'Oauth error invalid_request: The redirect_uri is missing or not absolute'); }
    if (app.redirectUris && !app.redirectUris.includes(redirectUri)) return sendText(res, 400, 'Oauth error invalid_request: The redirect_uri is not whitelisted');
    const online = q.getAll('grant_options[]').includes('per-user');
    const scope = q.get('scope') ?? app.scopes;
    const code = randomHex(16);
    codes.set(code, { code, clientId: app.clientId, shop, scope, online, expiresAt: now() + CODE_TTL_MS, used: false });
    const params: Record<string, string> = {
      code,
      host: b64url(`admin.shopify.com/store/${shopName(shop)}`),
      shop,
      timestamp: String(Math.floor(now() / 1000)),
    };
    const state = q.get('state');
    if (state !== null) params.state = state;
    params.hmac = signShopifyQuery(app.secret, params);
    for (const [k, v] of Object.entries(params)) redirect.searchParams.set(k, v);
    res.writeHead(302, { location: redirect.toString(), 'content-type': 'text/html; charset=utf-8' });
    res.end('<html><body>You are being redirected.</body></html>');
  }

  // ---- Admin GraphQL ----

  function bucketOf(shop: string): Bucket {
    let b = buckets.get(shop);
    if (!b) { b = { available: bucketSize, updatedAt: now() }; buckets.set(shop, b); }
    const t = now();
    b.available = Math.min(bucketSize, b.available + (Math.max(0, t - b.updatedAt) / 1000) * restoreRate);
    b.updatedAt = t;
    return b;
  }

  function cost(requested: number, actual: number | null, b: Bucket) {
    return {
      requestedQueryCost: requested,
      actualQueryCost: actual,
      throttleStatus: { maximumAvailable: bucketSize, currentlyAvailable: Math.floor(b.available), restoreRate },
    };
  }

  function hasScope(token: IssuedToken, needed: string): boolean {
    const granted = token.scope.split(',').map((s) => s.trim());
    if (granted.includes(needed)) return true;
    return needed.startsWith('read_') && granted.includes(`write_${needed.slice(5)}`);
  }

  function userError(field: string[] | null, message: string, code?: string) {
    return code ? { field, message, code } : { field, message };
  }

  function orderForShop(shop: string, id: unknown): EmulatedOrder | null {
    const o = typeof id === 'string' ? orders.get(id) : undefined;
    return o && o.shop === shop ? o : null;
  }

  function financialStatus(o: EmulatedOrder): string {
    const total = parseMoney(o.total)!;
    const captured = o.transactions.filter((t) => t.kind === 'CAPTURE' && t.status === 'SUCCESS').reduce((s, t) => s + parseMoney(t.amount)!, 0n);
    if (o.cancelledAt && captured === 0n) return 'VOIDED';
    if (captured >= total) return 'PAID';
    if (captured > 0n) return 'PARTIALLY_PAID';
    return o.transactions.some((t) => t.kind === 'AUTHORIZATION') ? 'AUTHORIZED' : 'PENDING';
  }

  function money(amount: string, currency: string) {
    return { shopMoney: { amount, currencyCode: currency }, presentmentMoney: { amount, currencyCode: currency } };
  }

  function txnView(t: EmulatedTransaction) {
    return {
      id: t.id, kind: t.kind, status: t.status, gateway: t.gateway, manuallyCapturable: t.manuallyCapturable,
      amountSet: money(t.amount, t.currency), parentTransaction: t.parentId ? { id: t.parentId } : null,
    };
  }

  function statusPageUrl(o: EmulatedOrder): string {
    return `https://${o.shop}/${o.id.split('/').pop()}/orders/${crypto.createHash('sha256').update(o.id).digest('hex').slice(0, 32)}/authenticate`;
  }

  function orderView(o: EmulatedOrder) {
    return {
      id: o.id, name: o.name, createdAt: o.createdAt, cancelledAt: o.cancelledAt,
      cancelReason: o.cancel ? o.cancel.reason ?? null : null,
      displayFinancialStatus: financialStatus(o),
      totalPriceSet: money(o.total, o.currency),
      currencyCode: o.currency,
      paymentGatewayNames: [o.gateway],
      email: o.email,
      customer: o.customerId === null ? null : { id: `gid://shopify/Customer/${o.customerId}` },
      statusPageUrl: statusPageUrl(o),
      tags: [...o.tags],
      transactions: o.transactions.map(txnView),
    };
  }

  /** Returns [data, error] for one root field. */
  function resolveField(shop: string, token: IssuedToken, type: 'query' | 'mutation', f: RootField): [unknown, { message: string; extensions?: Record<string, unknown> } | null] {
    const denied = (scope: string): [unknown, { message: string; extensions: Record<string, unknown> }] =>
      [null, { message: `Access denied for ${f.name} field. Required access: \`${scope}\` access scope.`, extensions: { code: 'ACCESS_DENIED' } }];
    const key = `${type} ${f.name}`;
    switch (key) {
      case 'query order': {
        if (!hasScope(token, 'read_orders')) return denied('read_orders');
        const o = orderForShop(shop, f.args.id);
        return [o ? orderView(o) : null, null];
      }
      case 'query shop':
        return [{ name: shopName(shop), myshopifyDomain: shop, currencyCode: 'USD' }, null];
      case 'mutation webhookSubscriptionCreate': {
        const topic = f.args.topic;
        const sub = (f.args.webhookSubscription ?? {}) as Record<string, unknown>;
        const callbackUrl = sub.callbackUrl ?? sub.uri;
        const errors = [];
        if (typeof topic !== 'string' || !/^[A-Z_]+$/.test(topic)) errors.push(userError(['topic'], 'Topic is invalid'));
        if (typeof callbackUrl !== 'string' || !/^https?:\/\//.test(callbackUrl)) errors.push(userError(['webhookSubscription', 'callbackUrl'], 'Address is invalid'));
        if (errors.length === 0 && webhookSubscriptions.some((w) => w.shop === shop && w.clientId === token.clientId && w.topic === topic && w.callbackUrl === callbackUrl)) {
          errors.push(userError(['webhookSubscription', 'callbackUrl'], 'Address for this topic has already been taken'));
        }
        if (errors.length) return [{ webhookSubscription: null, userErrors: errors }, null];
        const w: WebhookSubscription = {
          id: `gid://shopify/WebhookSubscription/${nextId++}`, shop, clientId: token.clientId,
          topic: topic as string, callbackUrl: callbackUrl as string, format: typeof sub.format === 'string' ? sub.format : 'JSON',
        };
        webhookSubscriptions.push(w);
        return [{ webhookSubscription: { id: w.id, topic: w.topic, format: w.format, uri: w.callbackUrl, callbackUrl: w.callbackUrl, endpoint: { __typename: 'WebhookHttpEndpoint', callbackUrl: w.callbackUrl } }, userErrors: [] }, null];
      }
      case 'mutation orderCapture': {
        if (!hasScope(token, 'write_orders')) return denied('write_orders');
        const input = (f.args.input ?? {}) as Record<string, unknown>;
        const refuse = (field: string[], message: string) => [{ transaction: null, userErrors: [userError(field, message)] }, null] as [unknown, null];
        const o = orderForShop(shop, input.id);
        if (!o) return refuse(['id'], 'Order does not exist');
        if (o.cancelledAt) return refuse(['id'], 'Cannot capture payment on a cancelled order');
        const parent = o.transactions.find((t) => t.id === input.parentTransactionId);
        if (!parent || parent.kind === 'CAPTURE') return refuse(['parentTransactionId'], 'Parent transaction does not exist');
        if (!parent.manuallyCapturable) return refuse(['parentTransactionId'], 'Parent transaction is not capturable');
        const amount = parseMoney(input.amount);
        if (amount === null || amount <= 0n) return refuse(['amount'], 'Amount must be greater than 0');
        if (input.currency !== undefined && input.currency !== null && input.currency !== parent.currency) return refuse(['currency'], `Currency must be ${parent.currency}`);
        const captured = o.transactions.filter((t) => t.parentId === parent.id && t.kind === 'CAPTURE').reduce((s, t) => s + parseMoney(t.amount)!, 0n);
        const capturable = parseMoney(parent.amount)! - captured;
        if (amount > capturable) return refuse(['amount'], `Amount to capture (${formatMoney(amount)}) exceeds the capturable amount (${formatMoney(capturable)})`);
        const capture: EmulatedTransaction = {
          id: `gid://shopify/OrderTransaction/${nextId++}`, kind: 'CAPTURE', status: 'SUCCESS', amount: formatMoney(amount),
          currency: parent.currency, gateway: parent.gateway, parentId: parent.id, manuallyCapturable: false,
        };
        o.transactions.push(capture);
        if (amount === capturable) parent.manuallyCapturable = false;
        return [{ transaction: txnView(capture), userErrors: [] }, null];
      }
      case 'mutation orderCancel': {
        if (!hasScope(token, 'write_orders')) return denied('write_orders');
        const o = orderForShop(shop, f.args.orderId);
        const refuse = (message: string, code: string) => {
          const e = [{ field: ['orderId'], message, code }];
          return [{ job: null, orderCancelUserErrors: e, userErrors: e }, null] as [unknown, null];
        };
        if (!o) return refuse('Order does not exist', 'NOT_FOUND');
        if (o.cancelledAt) return refuse('Order has already been cancelled', 'INVALID');
        o.cancelledAt = new Date(now()).toISOString();
        o.cancel = { ...f.args };
        for (const t of o.transactions) t.manuallyCapturable = false;
        return [{ job: { id: `gid://shopify/Job/${crypto.randomUUID()}`, done: false }, orderCancelUserErrors: [], userErrors: [] }, null];
      }
      case 'mutation metafieldsSet': {
        if (!hasScope(token, 'write_orders')) return denied('write_orders');
        const list = Array.isArray(f.args.metafields) ? (f.args.metafields as Array<Record<string, unknown>>) : [];
        // Atomic like Shopify's: one bad entry and nothing is written.
        const errors = [];
        for (const [n, m] of list.entries()) {
          if (!orderForShop(shop, m.ownerId)) errors.push(userError(['metafields', String(n), 'ownerId'], 'Owner does not exist', 'INVALID'));
          else if (typeof m.key !== 'string' || typeof m.value !== 'string' || typeof m.namespace !== 'string') errors.push(userError(['metafields', String(n)], 'namespace, key and value are required', 'BLANK'));
        }
        if (errors.length) return [{ metafields: [], userErrors: errors }, null];
        const out = [];
        for (const m of list) {
          const o = orderForShop(shop, m.ownerId)!;
          const [namespace, key, value] = [m.namespace as string, m.key as string, m.value as string];
          const type = typeof m.type === 'string' ? m.type : 'single_line_text_field';
          const existing = o.metafields.find((x) => x.namespace === namespace && x.key === key);
          if (existing) { existing.value = value; existing.type = type; }
          else o.metafields.push({ namespace, key, type, value });
          out.push({ id: `gid://shopify/Metafield/${nextId++}`, namespace, key, type, value, ownerType: 'ORDER' });
        }
        return [{ metafields: out, userErrors: [] }, null];
      }
      case 'mutation tagsAdd': {
        if (!hasScope(token, 'write_orders')) return denied('write_orders');
        const o = orderForShop(shop, f.args.id);
        if (!o) return [{ node: null, userErrors: [userError(['id'], 'Resource does not exist')] }, null];
        const raw = f.args.tags;
        const tags = (Array.isArray(raw) ? raw.map(String) : String(raw ?? '').split(',')).map((t) => t.trim()).filter(Boolean);
        for (const t of tags) if (!o.tags.includes(t)) o.tags.push(t);
        return [{ node: { id: o.id }, userErrors: [] }, null];
      }
      default:
        return [null, { message: `Field '${f.name}' doesn't exist on type '${type === 'query' ? 'QueryRoot' : 'Mutation'}'`, extensions: { code: 'undefinedField' } }];
    }
  }

  function handleGraphql(shop: string, req: http.IncomingMessage, rawBody: string, res: http.ServerResponse): void {
    const forced = failures.shift();
    if (forced !== undefined) return sendJson(res, forced, { errors: forced === 503 ? 'Service Unavailable' : 'Internal Server Error' });
    const header = req.headers['x-shopify-access-token'];
    const value = Array.isArray(header) ? header[0] : header;
    const token = tokens.find((t) => t.accessToken === value);
    if (!token || token.revoked || token.shop !== shop || (token.expiresAt !== null && token.expiresAt < now())) {
      return sendJson(res, 401, { errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' });
    }
    let body: { query?: unknown; variables?: unknown };
    try { body = JSON.parse(rawBody) as typeof body; } catch { return sendJson(res, 400, { errors: { query: 'Required parameter missing or invalid' } }); }
    if (typeof body?.query !== 'string') return sendJson(res, 400, { errors: { query: 'Required parameter missing or invalid' } });
    let op: ReturnType<typeof parseOperation>;
    try {
      op = parseOperation(body.query, (body.variables ?? {}) as Record<string, unknown>);
    } catch (err) {
      return sendJson(res, 200, { errors: [{ message: `Parse error: ${(err as Error).message}`, extensions: { code: 'PARSE_ERROR' } }] });
    }
    const requested = op.type === 'mutation' ? mutationCost : queryCost;
    const b = bucketOf(shop);
    if (throttled > 0 || b.available < requested) {
      if (throttled > 0) throttled--;
      return sendJson(res, 200, {
        errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED', documentation: 'https://shopify.dev/api/usage/rate-limits' } }],
        extensions: { cost: cost(requested, null, b) },
      });
    }
    b.available -= requested;
    const data: Record<string, unknown> = {};
    const errors: Array<{ message: string; path: string[]; extensions?: Record<string, unknown> }> = [];
    for (const f of op.fields) {
      const [value, error] = resolveField(shop, token, op.type, f);
      data[f.alias] = value;
      if (error) errors.push({ ...error, path: [f.alias] });
    }
    sendJson(res, 200, { data, ...(errors.length ? { errors } : {}), extensions: { cost: cost(requested, requested, b) } });
  }

  // ---- webhooks ----

  async function deliverOnce(entry: WebhookDelivery, shop: string, topic: string, apiVersion: string): Promise<void> {
    try {
      const res = await fetch(entry.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'X-Shopify-Topic': topic,
          'X-Shopify-Hmac-Sha256': entry.hmac,
          'X-Shopify-Shop-Domain': shop,
          'X-Shopify-API-Version': apiVersion,
          'X-Shopify-Webhook-Id': entry.webhookId,
          'X-Shopify-Event-Id': entry.eventId,
          'X-Shopify-Triggered-At': entry.triggeredAt,
        },
        body: entry.body,
        signal: AbortSignal.any([AbortSignal.timeout(webhookTimeoutMs), outbound.signal]),
        redirect: 'manual',
      });
      entry.httpStatus = res.status;
      entry.responseBody = await res.text();
    } catch (err) {
      entry.error = (err as Error).message;
    }
    deliveries.push(entry);
  }

  // ---- HTTP plumbing ----

  function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  }
  function sendText(res: http.ServerResponse, status: number, text: string): void {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(text);
  }


  /** Query string plus a JSON or form body, flattened to strings (as Rails params would be). */
  function oauthParams(req: http.IncomingMessage, url: URL, rawBody: string): Record<string, string> {
    const out: Record<string, string> = Object.fromEntries(url.searchParams);
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (rawBody && type === 'application/json') {
      let parsed: unknown;
      try { parsed = JSON.parse(rawBody); } catch { throw new OAuthFail('invalid_request', 'The request body is not valid JSON'); }
      if (typeof parsed === 'object' && parsed !== null) for (const [k, v] of Object.entries(parsed)) if (v !== null && v !== undefined) out[k] = String(v);
    } else if (rawBody) {
      for (const [k, v] of new URLSearchParams(rawBody)) out[k] = v;
    }
    return out;
  }

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://emulator');
    try {
      const rawBody = await readBody(req, MAX_BODY);
      requests.push(logged(req, url, rawBody));

      const headerShop = req.headers['x-shopify-shop-domain'];
      const shopValue = (Array.isArray(headerShop) ? headerShop[0] : headerShop) ?? url.searchParams.get('shop');
      const shop = shopValue && shops.has(shopValue) ? shopValue : null;
      const method = req.method ?? 'GET';
      const path = url.pathname;

      if (method === 'GET' && path === '/admin/oauth/authorize') return handleAuthorize(shop, url.searchParams, res);
      if (!shop) return sendJson(res, 404, { errors: 'Not Found' });
      if (method === 'POST' && path === '/admin/oauth/access_token') {
        try {
          return sendJson(res, 200, handleAccessToken(shop, oauthParams(req, url, rawBody)));
        } catch (err) {
          if (err instanceof OAuthFail) return sendJson(res, 400, { error: err.error, error_description: err.message });
          throw err;
        }
      }
      if (method === 'POST' && /^\/admin\/api\/(\d{4}-\d{2}|unstable)\/graphql\.json$/.test(path)) return handleGraphql(shop, req, rawBody, res);
      sendJson(res, 404, { errors: 'Not Found' });
    } catch (err) {
      if (!res.headersSent) sendJson(res, 500, { errors: `emulator error: ${(err as Error).message}` });
      else res.destroy();
    }
  });
  const { origin, destroySockets } = await listenOnLoopback(server);

  const emulator: ShopifyEmulator = {
    origin,
    requests,
    installations,
    tokens,
    deliveries,
    webhookSubscriptions,

    addApp(o = {}) {
      const clientId = o.clientId ?? randomHex(16);
      const secret = o.secret ?? `shpss_${randomHex(16)}`;
      apps.set(clientId, { clientId, secret, scopes: o.scopes ?? 'read_orders,write_orders', redirectUris: o.redirectUris ?? null });
      return { clientId, secret };
    },

    addShop(domain) {
      if (!SHOP_DOMAIN.test(domain)) throw new Error(`Shopify emulator: "${domain}" is not a valid shop domain`);
      shops.add(domain);
    },

    createOrder(shop, o) {
      if (!shops.has(shop)) throw new Error(`Shopify emulator: unknown shop ${shop}`);
      const total = parseMoney(o.total);
      if (total === null || total <= 0n) throw new Error(`Shopify emulator: total "${o.total}" is not a positive decimal`);
      const n = nextOrderNumber++;
      const id = `gid://shopify/Order/${5_000_000_000 + n}`;
      const gateway = o.gateway ?? DEFAULT_GATEWAY;
      const txn: EmulatedTransaction = {
        id: `gid://shopify/OrderTransaction/${nextId++}`, kind: o.kind ?? 'SALE', status: 'PENDING', amount: formatMoney(total),
        currency: o.currency, gateway, parentId: null, manuallyCapturable: true,
      };
      const name = o.name ?? `#${n}`;
      orders.set(id, {
        id, shop, name, total: formatMoney(total), currency: o.currency, gateway, email: o.email ?? null, customerId: o.customerId ?? null, createdAt: new Date(now()).toISOString(),
        cancelledAt: null, cancel: null, tags: [], metafields: [], transactions: [txn],
      });
      return { id, transactionId: txn.id, name };
    },

    order(id) {
      return structuredClone(storedOrder(id));
    },

    orderPayload(id) {
      const o = storedOrder(id);
      const numeric = Number(o.id.split('/').pop());
      const customer = o.customerId === null ? null : { id: o.customerId, email: o.email, admin_graphql_api_id: `gid://shopify/Customer/${o.customerId}` };
      return {
        id: numeric, admin_graphql_api_id: o.id, name: o.name, email: o.email, created_at: o.createdAt, cancelled_at: o.cancelledAt,
        cancel_reason: o.cancel ? String(o.cancel.reason ?? 'other').toLowerCase() : null, currency: o.currency, presentment_currency: o.currency,
        total_price: o.total, financial_status: financialStatus(o).toLowerCase(), payment_gateway_names: [o.gateway],
        order_status_url: statusPageUrl(o), tags: o.tags.join(', '), customer,
        billing_address: o.customerId === null ? null : { first_name: 'Pat', last_name: 'Buyer', address1: '1 Main St', city: 'Springfield', country_code: 'US' },
      };
    },

    async emit(shop, topic, payload, o = {}) {
      const gqlTopic = topic.replace('/', '_').toUpperCase();
      const eventId = o.eventId ?? crypto.randomUUID();
      const targets = webhookSubscriptions.filter((w) => w.shop === shop && w.topic === gqlTopic);
      return Promise.all(targets.map((w) => emulator.deliverWebhook(shop, topic, payload, { url: w.callbackUrl, secret: appOf(w.clientId).secret, eventId })));
    },

    cancelOrder(id) {
      const o = storedOrder(id);
      o.cancelledAt ??= new Date(now()).toISOString();
      o.cancel ??= { reason: 'OTHER', by: 'merchant' };
      for (const t of o.transactions) t.manuallyCapturable = false;
    },

    sessionToken,

    signQuery(clientId, params) {
      return signShopifyQuery(appOf(clientId).secret, params);
    },

    revokeToken(accessToken) {
      for (const t of tokens) if (t.accessToken === accessToken) t.revoked = true;
    },

    throttleNext(n) {
      throttled += n;
    },

    failNext(n, status = 500) {
      for (let k = 0; k < n; k++) failures.push(status);
    },

    advanceTime(ms) {
      clockOffset += ms;
    },

    now,

    async deliverWebhook(shop, topic, payload, o) {
      const body = JSON.stringify(payload);
      const base = {
        shop, topic, url: o.url, body,
        hmac: crypto.createHmac('sha256', o.secret).update(body, 'utf8').digest('base64'),
        webhookId: o.webhookId ?? crypto.randomUUID(),
        eventId: o.eventId ?? crypto.randomUUID(),
        triggeredAt: o.triggeredAt ?? new Date(now()).toISOString(),
      };
      const apiVersion = o.apiVersion ?? '2025-10';
      for (let attempt = 1; attempt <= retryDelays.length + 1 && !closed; attempt++) {
        const entry: WebhookDelivery = { ...base, attempt };
        await deliverOnce(entry, shop, topic, apiVersion);
        if (entry.httpStatus !== undefined && entry.httpStatus >= 200 && entry.httpStatus < 300) {
          return { delivered: true, attempts: attempt, webhookId: base.webhookId, eventId: base.eventId };
        }
        const delay = retryDelays[attempt - 1];
        if (delay === undefined) return { delivered: false, attempts: attempt, webhookId: base.webhookId, eventId: base.eventId };
        await sleep(delay);
      }
      return { delivered: false, attempts: 0, webhookId: base.webhookId, eventId: base.eventId };
    },

    async close() {
      if (closed) return;
      closed = true;
      outbound.abort();
      sleepers.wakeAll();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      destroySockets();
      await done;
    },
  };
  return emulator;
}
