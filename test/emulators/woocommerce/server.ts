/**
 * A WooCommerce emulator: a real HTTP server that behaves like one WooCommerce store as far as
 * Coinbridge uses it. Facts: /work/shared/reference/platforms.md (WooCommerce), checked against
 * WooCommerce's own code (class-wc-auth.php, class-wc-rest-authentication.php, class-wc-webhook.php,
 * the webhook data store and the REST v1–v3 order, note and webhook controllers).
 *
 * - `/wc-auth/v1/authorize` (key generation page) and `/wc-auth/v1/access_granted` (its Approve
 *   link). Tests approve through `approve(url)`, which does what the Approve button does.
 * - `/wp-json/wc/v3/...` with WooCommerce's OAuth 1.0a check, verbatim: the emulator listens on
 *   http, and over http WooCommerce ignores basic auth and `consumer_key` query parameters.
 * - Webhooks: activation ping, deliveries queued like Action Scheduler's (after the triggering
 *   call, one pending delivery per webhook and order), signed, never retried, disabled after the
 *   7th consecutive failure.
 *
 * Everything PHP does to strings on the way (parse_str, rawurlencode, json_encode escaping `/`
 * and non-ASCII) is reproduced, because that is where signatures break.
 *
 * Tests drive it through plain methods (createOrder, updateOrder, approve, failNext, settle, ...).
 */
import crypto from 'node:crypto';
import http from 'node:http';
import { listenOnLoopback, type LoggedRequest, readBody, Sleepers } from '../loopback.ts';

// ---------------------------------------------------------------------------------------------
// Exported types
// ---------------------------------------------------------------------------------------------

export type { LoggedRequest };

export type KeyPermissions = 'read' | 'write' | 'read_write';

export interface ApiKey {
  keyId: number;
  /** The WordPress user the key acts as (the merchant who approved it). */
  wpUserId: number;
  description: string;
  permissions: KeyPermissions;
  consumerKey: string;
  consumerSecret: string;
  /** Last 7 characters of the consumer key, as WooCommerce lists it. */
  truncatedKey: string;
  createdAt: string;
  lastAccess: string | null;
  /** WooCommerce deletes revoked keys; a revoked key answers "Consumer key is invalid." */
  revoked: boolean;
  revokedBecause: 'merchant' | 'callback_failed' | null;
}

export interface KeyAuthorization {
  appName: string;
  scope: string;
  /** The app's own user_id parameter, echoed back to it. */
  userId: string;
  returnUrl: string;
  callbackUrl: string;
  state: 'pending' | 'approved' | 'denied' | 'failed';
  keyId: number | null;
}

export interface ApprovalResult {
  /** Status of the keys POST to callback_url; null when none was made (deny) or it never answered. */
  callbackStatus: number | null;
  /**
   * Where the browser goes next: `return_url?success=1&user_id=…` (or `success=0` on deny). Null
   * when the keys POST failed: WooCommerce then deletes the keys and shows an error page
   * ("Access denied", HTTP 401) instead of redirecting.
   */
  redirect: string | null;
  /** The error page's message when redirect is null. */
  error: string | null;
  key: ApiKey | null;
}

export interface OrderNote {
  id: number;
  author: string;
  date_created: string;
  date_created_gmt: string;
  note: string;
  customer_note: boolean;
}

export interface WooAddress {
  first_name: string;
  last_name: string;
  company: string;
  address_1: string;
  address_2: string;
  city: string;
  state: string;
  postcode: string;
  country: string;
  email?: string;
  phone: string;
}

/** An order as the REST API v3 (and order webhooks) show it. */
export interface WooOrder {
  id: number;
  parent_id: number;
  number: string;
  order_key: string;
  created_via: string;
  status: string;
  currency: string;
  /** Decimal string with the store's 2 decimals, e.g. "40.00". */
  total: string;
  /** Site-timezone dates as WooCommerce prints them: "2025-01-31T12:34:56" (no offset; the site is UTC). */
  date_created: string;
  date_created_gmt: string;
  date_modified: string;
  date_modified_gmt: string;
  date_paid: string | null;
  date_paid_gmt: string | null;
  date_completed: string | null;
  date_completed_gmt: string | null;
  customer_id: number;
  customer_note: string;
  billing: WooAddress;
  shipping: WooAddress;
  payment_method: string;
  payment_method_title: string;
  transaction_id: string;
  meta_data: Array<{ id: number; key: string; value: unknown }>;
  line_items: Array<Record<string, unknown>>;
  needs_payment: boolean;
  needs_processing: boolean;
  is_editable: boolean;
  payment_url: string;
  [key: string]: unknown;
}

export interface NewOrder {
  total: string;
  currency?: string;
  /** Default 'coinbridge'. */
  paymentMethod?: string;
  paymentMethodTitle?: string;
  /** Default 'pending'. */
  status?: string;
  email?: string;
  customerId?: number;
  customerNote?: string;
  /** False for virtual+downloadable-only orders, which payment_complete() moves to completed. Default true. */
  needsProcessing?: boolean;
}

export interface OrderPatch {
  status: string;
  transactionId: string;
  paymentMethod: string;
  paymentMethodTitle: string;
  customerNote: string;
  email: string;
  total: string;
}

export interface WooWebhook {
  id: number;
  name: string;
  status: 'active' | 'paused' | 'disabled';
  /** '' when WooCommerce refused the topic on save (it stores an invalid topic as empty). */
  topic: string;
  deliveryUrl: string;
  secret: string;
  failureCount: number;
  /** True until an activation ping got exactly 200; while true, every save of an active webhook pings again. */
  pendingDelivery: boolean;
  apiVersion: 'wp_api_v3';
  wpUserId: number;
  createdAt: string;
  modifiedAt: string | null;
}

export interface WebhookPing {
  webhookId: number;
  url: string;
  /** `webhook_id=<id>`, form-encoded, unsigned. */
  body: string;
  status: number | null;
  error: string | null;
  /** Only an exact 200 counts. */
  ok: boolean;
}

export interface WebhookDelivery {
  webhookId: number;
  topic: string;
  resource: string;
  event: string;
  orderId: number;
  url: string;
  /** wp_hash(id . time()): NOT unique — two deliveries of one webhook within the same second share it. */
  deliveryId: string;
  /** Exactly the bytes sent (PHP json_encode: `\/` and `\uXXXX` escapes). */
  body: string;
  signature: string;
  headers: Record<string, string>;
  status: number | null;
  error: string | null;
  /** 200–302, as WooCommerce counts it. */
  success: boolean;
}

export interface WooCommerceEmulatorOptions {
  /** Accept an http:// callback_url at /wc-auth (WooCommerce insists on https). Tests only. */
  allowInsecureCallback?: boolean;
  /** Timeout of the store's outbound POSTs (key callback, pings, deliveries). WooCommerce: 60 s. */
  outboundTimeoutMs?: number;
  wcVersion?: string;
  wpVersion?: string;
  /** Store currency, default USD. */
  currency?: string;
}

export interface WooCommerceEmulator {
  readonly origin: string;
  readonly requests: LoggedRequest[];
  readonly deliveries: WebhookDelivery[];
  readonly pings: WebhookPing[];
  /** Every key ever issued, revoked ones included (live objects). */
  readonly keys: ApiKey[];
  /** Live webhook objects; a deleted webhook leaves the list. */
  readonly webhooks: WooWebhook[];
  readonly authorizations: KeyAuthorization[];
  /** Does what the merchant's Approve (or Deny) button does for this /wc-auth/v1/authorize URL. */
  approve(authorizeUrl: string, opts?: { deny?: boolean }): Promise<ApprovalResult>;
  /** A key made by hand in WooCommerce › Settings › Advanced › REST API (the manual fallback). */
  createKey(opts?: { permissions?: KeyPermissions; description?: string }): ApiKey;
  revokeKey(consumerKey: string): void;
  /** An order placed at checkout; fires order.created. */
  createOrder(o: NewOrder): WooOrder;
  /** The merchant edits the order in wp-admin (status writes have no guard); fires order.updated. */
  updateOrder(id: number, patch: Partial<OrderPatch>): WooOrder;
  /** A copy of the order as the REST API shows it, plus its notes and how often payment_complete() took effect. */
  order(id: number): WooOrder & { notes: OrderNote[]; paymentCompletions: number };
  notes(id: number): OrderNote[];
  disableWebhook(id: number): void;
  deleteWebhook(id: number): void;
  /** The next n REST calls (under /wp-json) answer `status` before WordPress sees them. */
  failNext(n: number, status: number, opts?: { retryAfterS?: number }): void;
  /** The next n REST calls wait `ms` first. */
  delayNext(n: number, ms: number): void;
  /** Resolves once every queued webhook delivery (and the pings they cause) has finished. */
  settle(): Promise<void>;
  /** Moves the store's clock (OAuth timestamp window, nonces, order dates). */
  advanceTime(ms: number): void;
  now(): number;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// PHP string behaviour. PHP strings are bytes: they are kept here as "binary" JS strings (one char
// per byte, latin1) wherever signatures are computed, so percent-encoding matches byte for byte.
// ---------------------------------------------------------------------------------------------

type PhpVal = string | PhpArr;
/** An ordered PHP array: string keys, ints kept as canonical decimal strings. */
interface PhpArr { map: Map<string, PhpVal>; next: number }

function phpArr(): PhpArr {
  return { map: new Map(), next: 0 };
}

const INT_KEY = /^(0|-?[1-9]\d{0,17})$/;

function phpSet(arr: PhpArr, key: string | null, value: PhpVal): void {
  if (key === null) {
    arr.map.set(String(arr.next), value);
    arr.next++;
    return;
  }
  arr.map.set(key, value);
  if (INT_KEY.test(key) && Number(key) >= arr.next) arr.next = Number(key) + 1;
}

/** urldecode()/rawurldecode() into a binary string (bytes, not UTF-16). */
function urldecodeBin(s: string, plusIsSpace: boolean): string {
  const bytes: number[] = [];
  const src = Buffer.from(s, 'utf8');
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === 0x25 && i + 2 < src.length && /^[0-9a-fA-F]{2}$/.test(String.fromCharCode(src[i + 1]!, src[i + 2]!))) {
      bytes.push(parseInt(String.fromCharCode(src[i + 1]!, src[i + 2]!), 16));
      i += 2;
    } else if (c === 0x2b && plusIsSpace) {
      bytes.push(0x20);
    } else {
      bytes.push(c);
    }
  }
  return Buffer.from(bytes).toString('latin1');
}

/** PHP rawurlencode() of a binary string: everything but A-Za-z0-9-_.~ becomes %XX. */
function rawurlencode(bin: string): string {
  let out = '';
  for (let i = 0; i < bin.length; i++) {
    const c = bin.charCodeAt(i);
    const ch = bin[i]!;
    out += /[A-Za-z0-9\-_.~]/.test(ch) ? ch : `%${c.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const toBin = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');
const fromBin = (bin: string): string => Buffer.from(bin, 'latin1').toString('utf8');

/**
 * PHP's parse_str()/$_GET: `+` is a space, `a[]=1&a[x]=2` builds arrays, `.` and spaces in the
 * base name become `_`. Keys and values come back as binary strings.
 */
function phpParseStr(qs: string): PhpArr {
  const root = phpArr();
  for (const part of qs.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    let key = urldecodeBin(eq < 0 ? part : part.slice(0, eq), true).replace(/^ +/, '');
    const value = urldecodeBin(eq < 0 ? '' : part.slice(eq + 1), true);
    if (key === '') continue;
    const open = key.indexOf('[');
    const segments: Array<string | null> = [];
    if (open > 0 && key.indexOf(']', open) > open) {
      let rest = key.slice(open);
      key = key.slice(0, open);
      for (let m = /^\[([^\]]*)\]/.exec(rest); m; m = /^\[([^\]]*)\]/.exec(rest)) {
        segments.push(m[1] === '' ? null : m[1]!);
        rest = rest.slice(m[0].length);
      }
    } else if (open === 0) {
      continue; // PHP drops a variable whose name starts with '['
    } else if (open > 0) {
      key = `${key.slice(0, open)}_${key.slice(open + 1)}`; // an unmatched '[' becomes '_'
    }
    key = key.replace(/[ .]/g, '_');
    if (segments.length === 0) { phpSet(root, key, value); continue; }
    let container = root;
    let k: string | null = key;
    for (const seg of segments) {
      const existing: PhpVal | undefined = k === null ? undefined : container.map.get(k);
      const child: PhpArr = existing !== undefined && typeof existing !== 'string' ? existing : phpArr();
      if (child !== existing) phpSet(container, k, child);
      container = child;
      k = seg;
    }
    phpSet(container, k, value);
  }
  return root;
}

/** array_merge(): string keys of b override a's; integer keys are appended and renumbered. */
function phpMerge(a: PhpArr, b: PhpArr): PhpArr {
  const out = phpArr();
  for (const src of [a, b]) {
    for (const [k, v] of src.map) phpSet(out, INT_KEY.test(k) ? null : k, v);
  }
  return out;
}

/** PHP empty(): '', '0' and empty arrays count as missing. */
function phpEmpty(v: PhpVal | undefined): boolean {
  if (v === undefined) return true;
  if (typeof v === 'string') return v === '' || v === '0';
  return v.map.size === 0;
}

/** A parsed PHP value as JS (UTF-8 strings; list-shaped arrays become JS arrays). */
function phpToJs(v: PhpVal): unknown {
  if (typeof v === 'string') return fromBin(v);
  const keys = [...v.map.keys()];
  if (keys.every((k, i) => k === String(i))) return [...v.map.values()].map(phpToJs);
  return Object.fromEntries([...v.map].map(([k, x]) => [fromBin(k), phpToJs(x)]));
}

/** json_encode() with default flags, as wp_json_encode() sends it: `/` → `\/`, non-ASCII → `\uXXXX`. */
export function phpJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/\//g, '\\/')
    .replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** strcmp() on bytes. */
function strcmp(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1'));
}

/**
 * The string WooCommerce signs (WC_REST_Authentication::check_oauth_signature): parameters minus
 * oauth_signature, sorted by key with strcmp, keys and values rawurlencoded, nested arrays as
 * `key%5Bsub%5D`, each `k=v` rawurlencoded again and joined with `%26`.
 */
function oauthStringToSign(method: string, baseUri: string, params: PhpArr): string {
  const entries = [...params.map].filter(([k]) => k !== 'oauth_signature').sort(([a], [b]) => strcmp(a, b));
  const normalizeValue = (v: PhpVal): PhpVal => {
    if (typeof v === 'string') return rawurlencode(v);
    const out = phpArr();
    for (const [k, x] of v.map) out.map.set(k, normalizeValue(x));
    return out;
  };
  const parts: string[] = [];
  const join = (key: string, v: PhpVal): void => {
    if (typeof v === 'string') parts.push(rawurlencode(`${key}=${v}`));
    else for (const [k, x] of v.map) join(`${key}%5B${k}%5D`, x);
  };
  for (const [k, v] of entries) join(rawurlencode(k), normalizeValue(v));
  return `${method.toUpperCase()}&${rawurlencode(toBin(baseUri))}&${parts.join('%26')}`;
}

/** WC_REST_Authentication::parse_header(). */
function parseOAuthHeader(header: string): PhpArr {
  const out = phpArr();
  if (!header.startsWith('OAuth ')) return out;
  for (const m of header.matchAll(/(oauth_[a-z_-]*)=(:?"([^"]*)"|([^,]*))/g)) {
    out.map.set(m[1]!, urldecodeBin(m[3] ? m[3] : (m[4] ?? ''), true));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Small WooCommerce helpers
// ---------------------------------------------------------------------------------------------

const ORDER_STATUSES = ['pending', 'processing', 'on-hold', 'completed', 'cancelled', 'refunded', 'failed', 'checkout-draft'];
/** The REST enum for writes: 'auto-draft' plus wc_get_order_statuses() without the 'wc-' prefix. */
const WRITABLE_STATUSES = ['auto-draft', ...ORDER_STATUSES];
const STATUS_NAMES: Record<string, string> = {
  pending: 'Pending payment', processing: 'Processing', 'on-hold': 'On hold', completed: 'Completed',
  cancelled: 'Cancelled', refunded: 'Refunded', failed: 'Failed', 'checkout-draft': 'Draft', 'auto-draft': 'auto-draft',
};
const WEBHOOK_STATUSES = ['active', 'paused', 'disabled'] as const;
const WEBHOOK_RESOURCES = ['coupon', 'customer', 'order', 'product'];
const WEBHOOK_EVENTS = ['created', 'updated', 'deleted', 'restored'];
const WEBHOOK_HOOKS: Record<string, string[]> = {
  'order.created': ['woocommerce_new_order'],
  'order.updated': ['woocommerce_update_order', 'woocommerce_order_refunded', 'woocommerce_delete_order_refund'],
  'order.deleted': ['wp_trash_post', 'woocommerce_trash_order'],
  'order.restored': ['untrashed_post', 'woocommerce_untrash_order'],
};
const CURRENCY_SYMBOLS: Record<string, string> = { USD: '$', EUR: '€', GBP: '£', CAD: '$', AUD: '$', JPY: '¥', CHF: 'CHF' };
const NONCE_WINDOW_S = 15 * 60;
const MAX_BODY = 1_000_000;

/** wc_is_webhook_valid_topic() for the default resources/events (and action.woocommerce_* topics). */
function isValidTopic(topic: string): boolean {
  if (topic.startsWith('action.woocommerce_') || topic.startsWith('action.wc_')) return true;
  const [resource, event] = topic.split('.');
  return resource !== undefined && event !== undefined && WEBHOOK_RESOURCES.includes(resource) && WEBHOOK_EVENTS.includes(event);
}

/** wc_is_valid_url(): http(s):// prefix and PHP's FILTER_VALIDATE_URL (approximated by URL + host). */
function isValidUrl(url: string): boolean {
  if (!url.startsWith('http://') && !url.startsWith('https://')) return false;
  try {
    return new URL(url).hostname !== '' && !/\s/.test(url);
  } catch {
    return false;
  }
}

/** wc_format_decimal($v, 2): the store's two price decimals, rounded half up. */
function formatPrice(v: string | number): string {
  const m = /^(\d+)(?:\.(\d*))?$/.exec(String(v).trim());
  if (!m) throw new Error(`WooCommerce emulator: "${v}" is not a decimal amount`);
  const frac = (m[2] ?? '').padEnd(3, '0');
  let cents = BigInt(m[1]!) * 100n + BigInt(frac.slice(0, 2));
  if (frac[2]! >= '5') cents += 1n;
  return `${cents / 100n}.${(cents % 100n).toString().padStart(2, '0')}`;
}

/** wc_rest_prepare_date_response(): 'Y-m-d\TH:i:s', no offset. */
function wcDate(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString().slice(0, 19);
}

/** rest_parse_date(): RFC 3339-ish; no offset means the site's timezone (UTC here). */
function parseRestDate(s: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|z|[+-]\d{2}(?::?\d{2})?)?$/.exec(s);
  if (!m) return null;
  const tz = m[8];
  const offset = !tz || tz.toUpperCase() === 'Z' ? 'Z' : tz.length === 3 ? `${tz}:00` : tz.includes(':') ? tz : `${tz.slice(0, 3)}:${tz.slice(3)}`;
  const t = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[7] ?? ''}${offset}`);
  return Number.isNaN(t) ? null : t;
}

/** wp_generate_password($n, true, true). */
function wpPassword(n: number): string {
  const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#$%^&*()-_ []{}<>~`+=,.;:/?|';
  return Array.from(crypto.randomBytes(n), (b) => chars[b % chars.length]).join('');
}

function alnum(n: number): string {
  const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  return Array.from(crypto.randomBytes(n), (b) => chars[b % chars.length]).join('');
}

/** add_query_arg() on a URL string: replaces or appends keys, leaves the rest of the query as it was. */
function addQueryArg(url: string, args: Record<string, string>): string {
  const hashAt = url.indexOf('#');
  const fragment = hashAt < 0 ? '' : url.slice(hashAt);
  const base = hashAt < 0 ? url : url.slice(0, hashAt);
  const qAt = base.indexOf('?');
  const path = qAt < 0 ? base : base.slice(0, qAt);
  const pairs = (qAt < 0 ? '' : base.slice(qAt + 1)).split('&').filter((p) => p !== '' && !(p.split('=')[0]! in args));
  for (const [k, v] of Object.entries(args)) pairs.push(`${k}=${encodeURIComponent(v)}`);
  return `${path}?${pairs.join('&')}${fragment}`;
}

/** WC_Auth::get_formatted_url(): urldecode() once more, and https:// when no scheme. */
function formattedUrl(binValue: string): string {
  const url = fromBin(urldecodeBin(binValue, true));
  return url.includes('://') ? url : `https://${url}`;
}

/** wc_clean() is sanitize_text_field(): strips tags, line breaks and surrounding whitespace. */
function wcClean(s: string): string {
  return s.replace(/<[^>]*>/g, '').replace(/[\r\n\t]+/g, ' ').trim();
}

function htmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

class AuthPageError extends Error {}

interface WpError { code: string; message: string; data: Record<string, unknown> & { status: number } }
const wpError = (status: number, code: string, message: string, extra: Record<string, unknown> = {}): WpError => ({ code, message, data: { status, ...extra } });
const isWpError = (v: unknown): v is WpError => typeof v === 'object' && v !== null && 'code' in v && 'data' in v && typeof (v as WpError).data?.status === 'number';

// ---------------------------------------------------------------------------------------------
// Stored state
// ---------------------------------------------------------------------------------------------

interface StoredKey { key: ApiKey; userId: string; nonces: Map<string, string> }

interface StoredOrder {
  id: number;
  orderKey: string;
  status: string;
  currency: string;
  total: string;
  paymentMethod: string;
  paymentMethodTitle: string;
  transactionId: string;
  customerId: number;
  customerNote: string;
  billing: WooAddress;
  createdAt: number;
  modifiedAt: number;
  paidAt: number | null;
  completedAt: number | null;
  needsProcessing: boolean;
  meta: Array<{ id: number; key: string; value: unknown }>;
  notes: OrderNote[];
  lineItemId: number;
  paymentCompletions: number;
}

interface QueuedDelivery { webhookId: number; orderId: number; started: boolean }

interface RestRequest {
  method: string;
  route: string;
  query: PhpArr;
  /** JSON body, or the form body, as JS values. */
  body: Record<string, unknown>;
  key: StoredKey | null;
  /** Order events the call fires; queued once the response has gone out. */
  events: Array<[orderId: number, topic: 'order.created' | 'order.updated']>;
}

interface RestResult { status: number; body: unknown; headers?: Record<string, string> }

interface Route {
  methods: string[];
  pattern: RegExp;
  /** The permission_callback's refusal when no key authenticated the request. */
  denied: [code: string, message: string];
  /** Validates and sanitizes args (WordPress does this before the permission check). */
  args?: (r: RestRequest) => WpError | null;
  handle: (r: RestRequest, m: RegExpExecArray) => Promise<RestResult | WpError> | RestResult | WpError;
}

// ---------------------------------------------------------------------------------------------
// The emulator
// ---------------------------------------------------------------------------------------------

export async function startWooCommerceEmulator(opts: WooCommerceEmulatorOptions = {}): Promise<WooCommerceEmulator> {
  const outboundTimeoutMs = opts.outboundTimeoutMs ?? 60_000;
  const wcVersion = opts.wcVersion ?? '9.9.5';
  const wpVersion = opts.wpVersion ?? '6.8.2';
  const storeCurrency = opts.currency ?? 'USD';
  const hookshotUa = `WooCommerce/${wcVersion} Hookshot (WordPress/${wpVersion})`;
  const wpHashSalt = crypto.randomBytes(32).toString('hex');
  const merchantUserId = 1;

  const requests: LoggedRequest[] = [];
  const deliveries: WebhookDelivery[] = [];
  const pings: WebhookPing[] = [];
  const keys: ApiKey[] = [];
  const storedKeys = new Map<string, StoredKey>(); // by consumer key; revoked keys are removed
  const webhooks: WooWebhook[] = [];
  const authorizations: KeyAuthorization[] = [];
  const grantNonces = new Set<string>();
  const orders = new Map<number, StoredOrder>();
  const failures: Array<{ status: number; retryAfterS?: number }> = [];
  const delays: number[] = [];
  const queue: QueuedDelivery[] = [];
  let draining: Promise<void> | null = null;
  let clockOffset = 0;
  let nextKeyId = 1;
  let nextOrderId = 101;
  let nextCommentId = 1;
  let nextMetaId = 1;
  let nextWebhookId = 1;
  let closed = false;
  let origin = '';

  const sleepers = new Sleepers();
  const outbound = new AbortController();

  /** WordPress works in whole seconds (MySQL DATETIME, time()). */
  const now = () => Date.now() + clockOffset;
  const nowS = () => Math.floor(now() / 1000);
  const nowMs = () => nowS() * 1000;

  const sleep = (ms: number): Promise<void> => sleepers.sleep(ms);

  // ---- keys ----

  function issueKey(appName: string, permissions: KeyPermissions, userId: string, description?: string): StoredKey {
    const consumerKey = `ck_${crypto.randomBytes(20).toString('hex')}`;
    const key: ApiKey = {
      keyId: nextKeyId++, wpUserId: merchantUserId,
      description: description ?? `${wcClean(appName).slice(0, 170)} - API (${new Date(now()).toISOString().slice(0, 19).replace('T', ' ')})`,
      permissions, consumerKey, consumerSecret: `cs_${crypto.randomBytes(20).toString('hex')}`,
      truncatedKey: consumerKey.slice(-7), createdAt: wcDate(nowMs())!, lastAccess: null, revoked: false, revokedBecause: null,
    };
    const stored: StoredKey = { key, userId, nonces: new Map() };
    keys.push(key);
    storedKeys.set(consumerKey, stored);
    return stored;
  }

  function deleteKey(consumerKey: string, because: 'merchant' | 'callback_failed'): void {
    const stored = storedKeys.get(consumerKey);
    if (!stored) return;
    storedKeys.delete(consumerKey);
    stored.key.revoked = true;
    stored.key.revokedBecause = because;
  }

  // ---- orders ----

  function storedOrder(id: number): StoredOrder {
    const o = orders.get(id);
    if (!o) throw new Error(`WooCommerce emulator: no order ${id}`);
    return o;
  }

  function needsPayment(o: StoredOrder): boolean {
    return (o.status === 'pending' || o.status === 'failed') && Number(o.total) > 0;
  }

  function addNote(o: StoredOrder, note: string, customerNote: boolean, author: string): OrderNote {
    const d = wcDate(nowMs())!;
    const n: OrderNote = { id: nextCommentId++, author, date_created: d, date_created_gmt: d, note, customer_note: customerNote };
    o.notes.unshift(n); // WooCommerce lists notes newest first
    return n;
  }

  /**
   * WC_Order::set_status() and the transition note save() adds. A move into the payment-complete
   * status sets date_paid once (maybe_set_date_paid); completed sets date_completed.
   */
  function setStatus(o: StoredOrder, status: string, noteAuthor: string): void {
    const from = o.status;
    if (from === status) return;
    o.status = status;
    if (o.paidAt === null) {
      const paidStatus = o.needsProcessing ? 'processing' : 'completed';
      if (status === paidStatus || (paidStatus === 'processing' && status === 'completed')) o.paidAt = nowMs();
    }
    if (status === 'completed' && o.completedAt === null) o.completedAt = nowMs();
    addNote(o, `Order status changed from ${STATUS_NAMES[from] ?? from} to ${STATUS_NAMES[status] ?? status}.`, false, noteAuthor);
  }

  /** WC_Order::payment_complete(): only from on-hold/pending/failed/cancelled. */
  function paymentComplete(o: StoredOrder, transactionId: string): boolean {
    if (!['on-hold', 'pending', 'failed', 'cancelled'].includes(o.status)) return false;
    if (transactionId !== '') o.transactionId = transactionId;
    if (o.paidAt === null) o.paidAt = nowMs();
    setStatus(o, o.needsProcessing ? 'processing' : 'completed', 'system');
    o.paymentCompletions++;
    return true;
  }

  function orderJson(o: StoredOrder): WooOrder {
    const created = wcDate(o.createdAt)!;
    const modified = wcDate(o.modifiedAt)!;
    const empty: WooAddress = { first_name: '', last_name: '', company: '', address_1: '', address_2: '', city: '', state: '', postcode: '', country: '', phone: '' };
    const json: WooOrder = {
      id: o.id, parent_id: 0, status: o.status, currency: o.currency, version: wcVersion, prices_include_tax: false,
      date_created: created, date_modified: modified,
      discount_total: '0.00', discount_tax: '0.00', shipping_total: '0.00', shipping_tax: '0.00', cart_tax: '0.00', total: o.total, total_tax: '0.00',
      customer_id: o.customerId, order_key: o.orderKey, billing: { ...o.billing }, shipping: { ...empty },
      payment_method: o.paymentMethod, payment_method_title: o.paymentMethodTitle, transaction_id: o.transactionId,
      customer_ip_address: '203.0.113.7', customer_user_agent: 'Mozilla/5.0 (X11; Linux x86_64)', created_via: 'checkout',
      customer_note: o.customerNote, date_completed: wcDate(o.completedAt), date_paid: wcDate(o.paidAt), cart_hash: '',
      number: String(o.id), meta_data: o.meta.map((m) => ({ ...m })),
      line_items: [{
        id: o.lineItemId, name: 'Emulated product', product_id: 17, variation_id: 0, quantity: 1, tax_class: '',
        subtotal: o.total, subtotal_tax: '0.00', total: o.total, total_tax: '0.00', taxes: [], meta_data: [], sku: 'EMU-1',
        price: Number(o.total), image: { id: '', src: '' }, parent_name: null,
      }],
      tax_lines: [], shipping_lines: [], fee_lines: [], coupon_lines: [], refunds: [],
      payment_url: `${origin}/checkout/order-pay/${o.id}/?pay_for_order=true&key=${o.orderKey}`,
      is_editable: ['pending', 'on-hold', 'auto-draft', 'checkout-draft'].includes(o.status),
      needs_payment: needsPayment(o), needs_processing: o.needsProcessing,
      date_created_gmt: created, date_modified_gmt: modified, date_completed_gmt: wcDate(o.completedAt), date_paid_gmt: wcDate(o.paidAt),
      currency_symbol: CURRENCY_SYMBOLS[o.currency] ?? o.currency,
      _links: {
        self: [{ href: `${origin}/wp-json/wc/v3/orders/${o.id}` }],
        collection: [{ href: `${origin}/wp-json/wc/v3/orders` }],
        ...(o.customerId ? { customer: [{ href: `${origin}/wp-json/wc/v3/customers/${o.customerId}` }] } : {}),
      },
    };
    return json;
  }

  // ---- webhooks ----

  function webhookById(id: number): WooWebhook | undefined {
    return webhooks.find((w) => w.id === id);
  }

  /** The v2/v3 controllers' shape: the secret is never sent back, not even in the edit context. */
  function webhookJson(w: WooWebhook): Record<string, unknown> {
    const [resource = '', event = ''] = w.topic.split('.');
    return {
      id: w.id, name: w.name, status: w.status, topic: w.topic, resource, event, hooks: WEBHOOK_HOOKS[w.topic] ?? [],
      delivery_url: w.deliveryUrl,
      date_created: w.createdAt, date_created_gmt: w.createdAt, date_modified: w.modifiedAt, date_modified_gmt: w.modifiedAt,
      _links: { self: [{ href: `${origin}/wp-json/wc/v3/webhooks/${w.id}` }], collection: [{ href: `${origin}/wp-json/wc/v3/webhooks` }] },
    };
  }

  /** WC_Webhook::deliver_ping(): form-encoded `webhook_id=<id>`, unsigned; only an exact 200 clears pending_delivery. */
  async function deliverPing(w: WooWebhook): Promise<WebhookPing> {
    const ping: WebhookPing = { webhookId: w.id, url: w.deliveryUrl, body: `webhook_id=${w.id}`, status: null, error: null, ok: false };
    try {
      const res = await fetch(w.deliveryUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': hookshotUa },
        body: ping.body,
        signal: AbortSignal.any([AbortSignal.timeout(outboundTimeoutMs), outbound.signal]),
      });
      ping.status = res.status;
      await res.arrayBuffer().catch(() => undefined);
    } catch (err) {
      ping.error = `Error: Delivery URL cannot be reached: ${(err as Error).message}`;
    }
    if (ping.status !== null && ping.status !== 200) ping.error = `Error: Delivery URL returned response code: ${ping.status}`;
    ping.ok = ping.status === 200;
    pings.push(ping);
    if (ping.ok && webhookById(w.id)) {
      w.pendingDelivery = false;
      await saveWebhook(w, false);
    }
    return ping;
  }

  /**
   * WC_Webhook_Data_Store::update(): every save of an active webhook pings again while
   * pending_delivery is still set (or when the delivery URL changed).
   */
  async function saveWebhook(w: WooWebhook, deliveryUrlChanged: boolean): Promise<void> {
    w.modifiedAt = wcDate(nowMs());
    if (w.status === 'active' && (deliveryUrlChanged || w.pendingDelivery)) await deliverPing(w);
  }

  /**
   * wc_webhook_process_delivery(): queue the delivery for after the current request; skip it when
   * one for the same webhook and order is already waiting (Action Scheduler's uniqueness).
   */
  function fireOrderEvent(orderId: number, topic: 'order.created' | 'order.updated'): void {
    const o = orders.get(orderId);
    if (!o || ['checkout-draft', 'auto-draft'].includes(o.status)) return; // is_valid_resource(): drafts never go out
    for (const w of webhooks) {
      if (w.status !== 'active' || w.topic !== topic) continue;
      if (queue.some((q) => !q.started && q.webhookId === w.id && q.orderId === orderId)) continue;
      queue.push({ webhookId: w.id, orderId, started: false });
    }
    kickQueue();
  }

  function kickQueue(): void {
    if (draining || queue.length === 0) return;
    // Restart from finally(): an event queued while the last delivery was finishing is not stranded.
    draining = drain().finally(() => { draining = null; kickQueue(); });
  }

  async function drain(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve)); // the triggering call returns first
    while (queue.length > 0) {
      const item = queue[0]!;
      item.started = true;
      try {
        if (!closed) await deliver(item);
      } finally {
        queue.shift();
      }
    }
  }

  /** WC_Webhook::deliver(): payload built now, from the order's current state. No retries. */
  async function deliver(item: QueuedDelivery): Promise<void> {
    const w = webhookById(item.webhookId);
    const o = orders.get(item.orderId);
    if (!w || !o) return; // deleted in the meantime: WooCommerce has nothing to send
    const [resource = '', event = ''] = w.topic.split('.');
    const body = phpJson(orderJson(o)).trim();
    const signature = crypto.createHmac('sha256', w.secret).update(body, 'utf8').digest('base64');
    // wp_hash( id . time() ): two deliveries of one webhook in the same second share the ID.
    const deliveryId = crypto.createHmac('md5', wpHashSalt).update(`${w.id}${nowS()}`).digest('hex');
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': hookshotUa,
      'x-wc-webhook-source': `${origin}/`,
      'x-wc-webhook-topic': w.topic,
      'x-wc-webhook-resource': resource,
      'x-wc-webhook-event': event,
      'x-wc-webhook-signature': signature,
      'x-wc-webhook-id': String(w.id),
      'x-wc-webhook-delivery-id': deliveryId,
    };
    const entry: WebhookDelivery = {
      webhookId: w.id, topic: w.topic, resource, event, orderId: o.id, url: w.deliveryUrl, deliveryId, body, signature, headers,
      status: null, error: null, success: false,
    };
    try {
      const res = await fetch(w.deliveryUrl, {
        method: 'POST', headers, body, redirect: 'manual', // 'redirection' => 0
        signal: AbortSignal.any([AbortSignal.timeout(outboundTimeoutMs), outbound.signal]),
      });
      entry.status = res.status;
      await res.arrayBuffer().catch(() => undefined);
    } catch (err) {
      entry.error = (err as Error).message;
    }
    entry.success = entry.status !== null && entry.status >= 200 && entry.status < 303;
    deliveries.push(entry);
    if (!webhookById(w.id)) return;
    if (entry.success) {
      w.failureCount = 0;
    } else if (w.failureCount > 5) {
      w.status = 'disabled'; // checked before incrementing: the 7th consecutive failure disables
    } else {
      w.failureCount++;
    }
    await saveWebhook(w, false);
  }

  // ---- /wc-auth/v1 ----

  interface AuthData { appName: string; userId: string; returnUrl: string; callbackUrl: string; scope: KeyPermissions }

  /** WC_Auth::make_validation(), on parameters as PHP parsed them (binary strings). */
  function validateAuth(params: PhpArr): AuthData {
    const data: Record<string, string> = {};
    for (const p of ['app_name', 'user_id', 'return_url', 'callback_url', 'scope']) {
      const v = params.map.get(p);
      if (phpEmpty(v)) throw new AuthPageError(`Missing parameter ${p}`);
      if (typeof v !== 'string') throw new AuthPageError(`Invalid parameter ${p}`);
      data[p] = v;
    }
    const scope = fromBin(data.scope!);
    if (scope !== 'read' && scope !== 'write' && scope !== 'read_write') throw new AuthPageError(`Invalid scope ${wcClean(scope)}`);
    for (const p of ['return_url', 'callback_url']) {
      const url = formattedUrl(data[p]!);
      if (!isValidUrl(url)) throw new AuthPageError(`The ${url} is not a valid URL`);
    }
    const callbackUrl = formattedUrl(data.callback_url!);
    if (!callbackUrl.toLowerCase().startsWith('https://') && !opts.allowInsecureCallback) throw new AuthPageError('The callback_url needs to be over SSL');
    return { appName: fromBin(data.app_name!), userId: fromBin(data.user_id!), returnUrl: data.return_url!, callbackUrl: data.callback_url!, scope };
  }

  /** WC_Auth::build_url(): the page's links carry the (already decoded) URLs rawurlencoded once more. */
  function buildAuthUrl(d: AuthData, endpoint: string): string {
    const q = [
      `app_name=${encodeURIComponent(wcClean(d.appName))}`,
      `user_id=${encodeURIComponent(wcClean(d.userId))}`,
      `return_url=${rawurlencode(toBin(formattedUrl(d.returnUrl)))}`,
      `callback_url=${rawurlencode(toBin(formattedUrl(d.callbackUrl)))}`,
      `scope=${encodeURIComponent(d.scope)}`,
    ];
    return `${origin}/wc-auth/v1/${endpoint}?${q.join('&')}`;
  }

  function denyUrl(d: AuthData): string {
    return addQueryArg(formattedUrl(d.returnUrl), { success: '0', user_id: wcClean(d.userId) });
  }

  function findAuthorization(d: AuthData): KeyAuthorization {
    const returnUrl = formattedUrl(d.returnUrl);
    const callbackUrl = formattedUrl(d.callbackUrl);
    let a = authorizations.find((x) => x.state === 'pending' && x.appName === d.appName && x.userId === d.userId && x.scope === d.scope && x.returnUrl === returnUrl && x.callbackUrl === callbackUrl);
    if (!a) {
      a = { appName: d.appName, scope: d.scope, userId: d.userId, returnUrl, callbackUrl, state: 'pending', keyId: null };
      authorizations.push(a);
    }
    return a;
  }

  /** The access_granted route: create keys, POST them to callback_url, delete them unless it answered 200. */
  async function grantAccess(d: AuthData): Promise<ApprovalResult> {
    const a = findAuthorization(d);
    const stored = issueKey(d.appName, d.scope, d.userId);
    const payload = {
      key_id: stored.key.keyId, user_id: d.userId, consumer_key: stored.key.consumerKey,
      consumer_secret: stored.key.consumerSecret, key_permissions: stored.key.permissions,
    };
    let status: number | null = null;
    let error: string | null = null;
    try {
      const res = await fetch(formattedUrl(d.callbackUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json;charset=UTF-8', 'user-agent': `WordPress/${wpVersion}; ${origin}` },
        body: phpJson(payload),
        signal: AbortSignal.any([AbortSignal.timeout(outboundTimeoutMs), outbound.signal]),
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
      if (status !== 200) error = 'An error occurred in the request and at the time were unable to send the consumer data';
    } catch (err) {
      error = (err as Error).message;
    }
    if (error !== null) {
      deleteKey(stored.key.consumerKey, 'callback_failed');
      a.state = 'failed';
      a.keyId = stored.key.keyId;
      return { callbackStatus: status, redirect: null, error: `Error: ${error}.`, key: stored.key };
    }
    a.state = 'approved';
    a.keyId = stored.key.keyId;
    return {
      callbackStatus: status,
      redirect: addQueryArg(formattedUrl(d.returnUrl), { success: '1', user_id: wcClean(d.userId) }),
      error: null, key: stored.key,
    };
  }

  function grantPage(d: AuthData): string {
    const nonce = crypto.randomBytes(5).toString('hex');
    grantNonces.add(nonce);
    const granted = `${buildAuthUrl(d, 'access_granted')}&wc_auth_nonce=${nonce}`;
    const perms: Record<KeyPermissions, string[]> = {
      read: ['View coupons', 'View customers', 'View orders and sales reports', 'View products'],
      write: ['Create webhooks', 'Create coupons', 'Create customers', 'Create orders', 'Create products'],
      read_write: ['Create webhooks', 'View and manage coupons', 'View and manage customers', 'View and manage orders and sales reports', 'View and manage products'],
    };
    const scopeName = { read: 'Read', write: 'Write', read_write: 'Read/Write' }[d.scope];
    return `<!DOCTYPE html><html><head><meta charset="UTF-8"><title>Application authentication request</title></head><body>
<h1>${htmlEscape(wcClean(d.appName))} would like to connect to your store</h1>
<p>This will give "${htmlEscape(wcClean(d.appName))}" <strong>${scopeName}</strong> access which will allow it to:</p>
<ul>${perms[d.scope].map((p) => `<li>${p}</li>`).join('')}</ul>
<p><a class="button wc-auth-approve" href="${htmlEscape(granted)}">Approve</a>
<a class="button wc-auth-deny" href="${htmlEscape(denyUrl(d))}">Deny</a></p>
</body></html>`;
  }

  /** wp_die( 'Error: %s.', 'Access denied', array( 'response' => 401 ) ). */
  function sendAuthError(res: http.ServerResponse, text: string): void {
    res.writeHead(401, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!DOCTYPE html><html><head><title>Access denied</title></head><body id="error-page"><div class="wp-die-message">${htmlEscape(text)}</div></body></html>`);
  }

  async function handleAuth(route: string, rawQuery: string, res: http.ServerResponse): Promise<void> {
    const params = phpParseStr(rawQuery);
    try {
      const d = validateAuth(params);
      if (route === 'login') { // the merchant is logged in: straight to the grant page
        res.writeHead(302, { location: buildAuthUrl(d, 'authorize') });
        res.end();
        return;
      }
      if (route === 'authorize') {
        findAuthorization(d);
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(grantPage(d));
        return;
      }
      if (route === 'access_granted') {
        const nonce = params.map.get('wc_auth_nonce');
        if (typeof nonce !== 'string' || !grantNonces.delete(nonce)) throw new AuthPageError('Invalid nonce verification');
        const result = await grantAccess(d);
        if (result.redirect === null) return sendAuthError(res, result.error!);
        res.writeHead(302, { location: result.redirect });
        res.end();
        return;
      }
      throw new AuthPageError('You do not have permission to access this page');
    } catch (err) {
      if (err instanceof AuthPageError) return sendAuthError(res, `Error: ${err.message}.`);
      throw err;
    }
  }

  // ---- REST: authentication (WC_REST_Authentication, the http branch) ----

  /** The error a request carries after authentication, or the key it authenticated with (null: none tried). */
  function authenticate(method: string, rawPath: string, query: PhpArr, post: PhpArr, authHeader: string): StoredKey | WpError | null {
    let params = phpMerge(query, post);
    const header = parseOAuthHeader(authHeader.trim());
    if (header.map.size) params = phpMerge(params, header);
    const required = ['oauth_consumer_key', 'oauth_timestamp', 'oauth_nonce', 'oauth_signature', 'oauth_signature_method'];
    const missing = required.filter((p) => phpEmpty(params.map.get(p)));
    if (missing.length === required.length) return null; // not even trying OAuth: unauthenticated
    if (missing.length) {
      return wpError(401, 'woocommerce_rest_authentication_missing_parameter', `Missing OAuth parameter${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
    }
    const ck = params.map.get('oauth_consumer_key');
    const stored = typeof ck === 'string' ? storedKeys.get(fromBin(ck).trim()) : undefined;
    if (!stored) return wpError(401, 'woocommerce_rest_authentication_error', 'Consumer key is invalid.');

    // check_oauth_signature(): base URI is home_url + the raw request path.
    const sig = params.map.get('oauth_signature');
    const given = typeof sig === 'string' ? urldecodeBin(sig.replace(/ /g, '+'), false) : '';
    const stringToSign = oauthStringToSign(method, `${origin}${rawPath}`, params);
    const sigMethod = params.map.get('oauth_signature_method');
    if (sigMethod !== 'HMAC-SHA1' && sigMethod !== 'HMAC-SHA256') {
      return wpError(401, 'woocommerce_rest_authentication_error', 'Invalid signature - signature method is invalid.');
    }
    const expected = crypto.createHmac(sigMethod === 'HMAC-SHA1' ? 'sha1' : 'sha256', `${stored.key.consumerSecret}&`)
      .update(Buffer.from(stringToSign, 'latin1')).digest('base64');
    const a = Buffer.from(expected, 'latin1');
    const b = Buffer.from(given, 'latin1');
    if (a.length !== b.length || !crypto.timingSafeEqual(a, b)) {
      return wpError(401, 'woocommerce_rest_authentication_error', 'Invalid signature - provided signature does not match.');
    }

    // check_oauth_timestamp_and_nonce(): ±15 min; nonces are stored BY TIMESTAMP, so a second
    // request signed in the same second overwrites the first one's nonce (WooCommerce's own quirk).
    const tsRaw = params.map.get('oauth_timestamp') as string;
    const ts = /^\s*-?\d+(\.\d+)?\s*$/.test(tsRaw) ? Number(tsRaw) : NaN;
    const t = nowS();
    if (!Number.isFinite(ts) || ts < t - NONCE_WINDOW_S || ts > t + NONCE_WINDOW_S) {
      return wpError(401, 'woocommerce_rest_authentication_error', 'Invalid timestamp.');
    }
    const nonce = params.map.get('oauth_nonce');
    if ([...stored.nonces.values()].some((n) => n === nonce)) {
      return wpError(401, 'woocommerce_rest_authentication_error', 'Invalid nonce - nonce has already been used.');
    }
    stored.nonces.set(tsRaw, typeof nonce === 'string' ? nonce : '');
    for (const k of [...stored.nonces.keys()]) if (Number(k) < t - NONCE_WINDOW_S) stored.nonces.delete(k);
    return stored;
  }

  /** check_user_permissions() (rest_pre_dispatch): the key's read/write permission by HTTP method. */
  function keyPermissionError(stored: StoredKey, method: string): WpError | null {
    const p = stored.key.permissions;
    if (method === 'GET' || method === 'HEAD') {
      if (p !== 'read' && p !== 'read_write') return wpError(401, 'woocommerce_rest_authentication_error', 'The API key provided does not have read permissions.');
    } else if (['POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) {
      if (p !== 'write' && p !== 'read_write') return wpError(401, 'woocommerce_rest_authentication_error', 'The API key provided does not have write permissions.');
    } else if (method !== 'OPTIONS') {
      return wpError(401, 'woocommerce_rest_authentication_error', 'Unknown request method.');
    }
    return null;
  }

  // ---- REST: arguments ----

  /** A request arg the way WP_REST_Request::get_param() finds it: JSON/form body, then query. */
  function arg(r: RestRequest, name: string): unknown {
    if (Object.prototype.hasOwnProperty.call(r.body, name)) return r.body[name];
    const q = r.query.map.get(name);
    return q === undefined ? undefined : phpToJs(q);
  }

  const invalidParam = (name: string, message: string): WpError =>
    wpError(400, 'rest_invalid_param', `Invalid parameter(s): ${name}`, { params: { [name]: message }, details: { [name]: { code: 'rest_invalid_param', message, data: null } } });

  function intArg(r: RestRequest, name: string, dflt: number, min: number, max: number): number | WpError {
    const v = arg(r, name);
    if (v === undefined) return dflt;
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isInteger(n)) return invalidParam(name, `${name} is not of type integer.`);
    if (n < min || n > max) {
      return invalidParam(name, max === Infinity ? `${name} must be greater than or equal to ${min}` : `${name} must be between ${min} (inclusive) and ${max} (inclusive)`);
    }
    return n;
  }

  function enumArg(r: RestRequest, name: string, values: readonly string[], dflt: string): string | WpError {
    const v = arg(r, name);
    if (v === undefined) return dflt;
    if (typeof v !== 'string') return invalidParam(name, `${name} is not of type string.`);
    if (!values.includes(v)) return invalidParam(name, `${name} is not one of ${values.join(', ')}.`);
    return v;
  }

  function boolArg(r: RestRequest, name: string): boolean | null | WpError {
    const v = arg(r, name);
    if (v === undefined || v === null) return null;
    if (v === true || v === false) return v;
    if (v === 'true' || v === '1' || v === 1) return true;
    if (v === 'false' || v === '0' || v === 0 || v === '') return false;
    return invalidParam(name, `${name} is not of type boolean.`);
  }

  function dateArg(r: RestRequest, name: string): number | null | WpError {
    const v = arg(r, name);
    if (v === undefined) return null;
    const t = typeof v === 'string' ? parseRestDate(v) : null;
    return t === null ? invalidParam(name, 'Invalid date.') : t;
  }

  /** WP's list args: an array, or a string split on commas and spaces (wp_parse_list). */
  function listArg(r: RestRequest, name: string): string[] | undefined {
    const v = arg(r, name);
    if (v === undefined) return undefined;
    const list = Array.isArray(v) ? v : typeof v === 'object' && v !== null ? Object.values(v) : String(v).split(/[\s,]+/);
    return list.map(String).filter((s) => s !== '');
  }

  function paginate<T>(items: T[], page: number, perPage: number, route: string, query: PhpArr): { slice: T[]; headers: Record<string, string> } {
    const total = items.length;
    const pages = Math.ceil(total / perPage);
    const base = `${origin}/wp-json${route}`;
    const qs = (p: number) => {
      const q = [...query.map].filter(([k]) => !k.startsWith('oauth_') && k !== 'page').map(([k, v]) => typeof v === 'string' ? `${rawurlencode(k)}=${rawurlencode(v)}` : '');
      return [...q.filter(Boolean), `page=${p}`].join('&');
    };
    const links: string[] = [];
    if (page > 1) links.push(`<${base}?${qs(Math.min(page - 1, Math.max(pages, 1)))}>; rel="prev"`);
    if (pages > page) links.push(`<${base}?${qs(page + 1)}>; rel="next"`);
    return {
      slice: items.slice((page - 1) * perPage, page * perPage),
      headers: { 'x-wp-total': String(total), 'x-wp-totalpages': String(pages), ...(links.length ? { link: links.join(', ') } : {}) },
    };
  }

  // ---- REST: routes ----

  const CANNOT_LIST: [string, string] = ['woocommerce_rest_cannot_view', 'Sorry, you cannot list resources.'];
  const CANNOT_VIEW: [string, string] = ['woocommerce_rest_cannot_view', 'Sorry, you cannot view this resource.'];
  const CANNOT_EDIT: [string, string] = ['woocommerce_rest_cannot_edit', 'Sorry, you are not allowed to edit this resource.'];
  const CANNOT_CREATE: [string, string] = ['woocommerce_rest_cannot_create', 'Sorry, you are not allowed to create resources.'];
  const CANNOT_DELETE: [string, string] = ['woocommerce_rest_cannot_delete', 'Sorry, you are not allowed to delete this resource.'];
  const ORDER_INVALID_ID = (status: number) => wpError(status, 'woocommerce_rest_shop_order_invalid_id', 'Invalid ID.');
  const WEBHOOK_INVALID_ID = (status: number, message = 'ID is invalid.') => wpError(status, 'woocommerce_rest_shop_webhook_invalid_id', message);

  interface OrderListArgs {
    perPage: number; page: number; order: string; orderby: string; statuses: string[]; include: number[];
    customer: unknown; dates: Record<string, number | null>;
  }

  function orderListArgs(r: RestRequest): OrderListArgs | WpError {
    const perPage = intArg(r, 'per_page', 10, 1, 100);
    if (isWpError(perPage)) return perPage;
    const page = intArg(r, 'page', 1, 1, Infinity);
    if (isWpError(page)) return page;
    const order = enumArg(r, 'order', ['asc', 'desc'], 'desc');
    if (isWpError(order)) return order;
    const orderby = enumArg(r, 'orderby', ['date', 'id', 'include', 'title', 'slug', 'modified'], 'date');
    if (isWpError(orderby)) return orderby;
    const dates: Record<string, number | null> = {};
    for (const name of ['after', 'before', 'modified_after', 'modified_before']) {
      const d = dateArg(r, name);
      if (isWpError(d)) return d;
      dates[name] = d;
    }
    const allowed = ['any', 'trash', ...WRITABLE_STATUSES];
    const statuses = listArg(r, 'status') ?? ['any'];
    const badStatus = statuses.findIndex((s) => !allowed.includes(s));
    if (badStatus >= 0) return invalidParam('status', `status[${badStatus}] is not one of ${allowed.join(', ')}.`);
    const include = (listArg(r, 'include') ?? []).map(Number).filter((n) => n > 0);
    return { perPage, page, order, orderby, statuses, include, customer: arg(r, 'customer'), dates };
  }

  function listOrders(r: RestRequest): RestResult | WpError {
    const a = orderListArgs(r);
    if (isWpError(a)) return a;
    const { perPage, page, order, orderby, statuses, include, customer, dates } = a;
    let list = [...orders.values()].filter((o) => {
      if (statuses.includes('any') ? ['checkout-draft', 'auto-draft', 'trash'].includes(o.status) : !statuses.includes(o.status)) return false;
      if (include.length && !include.includes(o.id)) return false;
      if (customer !== undefined && String(o.customerId) !== String(customer)) return false;
      // WP_Date_Query is exclusive by default and works in whole seconds.
      if (dates.after != null && !(o.createdAt > dates.after)) return false;
      if (dates.before != null && !(o.createdAt < dates.before)) return false;
      if (dates.modified_after != null && !(o.modifiedAt > dates.modified_after)) return false;
      if (dates.modified_before != null && !(o.modifiedAt < dates.modified_before)) return false;
      return true;
    });
    const keyOf = (o: StoredOrder): number => (orderby === 'modified' ? o.modifiedAt : orderby === 'date' ? o.createdAt : o.id);
    list.sort((a, b) => (keyOf(a) - keyOf(b)) || (a.id - b.id));
    if (order === 'desc') list = list.reverse();
    const { slice, headers } = paginate(list, page, perPage, r.route, r.query);
    return { status: 200, body: slice.map(orderJson), headers };
  }

  function updateOrderRest(r: RestRequest, id: number): RestResult | WpError {
    const o = orders.get(id);
    if (!o) return ORDER_INVALID_ID(400);
    const status = arg(r, 'status'); // validated by the route's args
    const setPaid = boolArg(r, 'set_paid');

    // prepare_object_for_database(): plain setters first (transaction_id is written as given,
    // paid or not), then the status, one save(), then set_paid only when needs_payment().
    const str = (name: string): string | undefined => { const v = arg(r, name); return v === undefined || v === null ? undefined : String(v); };
    const txn = str('transaction_id');
    if (txn !== undefined) o.transactionId = txn;
    const pm = str('payment_method');
    if (pm !== undefined) o.paymentMethod = pm;
    const pmt = str('payment_method_title');
    if (pmt !== undefined) o.paymentMethodTitle = pmt;
    const cn = str('customer_note');
    if (cn !== undefined) o.customerNote = cn;
    const meta = arg(r, 'meta_data');
    if (Array.isArray(meta)) {
      for (const m of meta as Array<{ key?: unknown; value?: unknown }>) {
        if (typeof m?.key !== 'string') continue;
        const existing = o.meta.find((x) => x.key === m.key);
        if (existing) existing.value = m.value;
        else o.meta.push({ id: nextMetaId++, key: m.key, value: m.value });
      }
    }
    if (typeof status === 'string' && status !== '') setStatus(o, status, 'system');
    o.modifiedAt = nowMs();
    if (setPaid === true && needsPayment(o)) paymentComplete(o, txn ?? '');
    r.events.push([o.id, 'order.updated']);
    return { status: 200, body: orderJson(o) };
  }

  function webhookArgs(r: RestRequest, creating: boolean): WpError | null {
    if (creating) {
      const missing = ['topic', 'delivery_url'].filter((p) => arg(r, p) === undefined);
      if (missing.length) return wpError(400, 'rest_missing_callback_param', `Missing parameter(s): ${missing.join(', ')}`, { params: missing });
    }
    const status = arg(r, 'status');
    if (status !== undefined && (typeof status !== 'string' || !(WEBHOOK_STATUSES as readonly string[]).includes(status))) {
      return invalidParam('status', `status is not one of ${WEBHOOK_STATUSES.join(', ')}.`);
    }
    return null;
  }

  async function createWebhookRest(r: RestRequest): Promise<RestResult | WpError> {
    const topic = String(arg(r, 'topic') ?? '');
    if (topic === '' || !isValidTopic(topic.toLowerCase())) {
      return wpError(400, 'woocommerce_rest_shop_webhook_invalid_topic', 'Webhook topic is required and must be valid.');
    }
    const url = String(arg(r, 'delivery_url') ?? '');
    if (url === '' || !isValidUrl(url)) {
      return wpError(400, 'woocommerce_rest_shop_webhook_invalid_delivery_url', 'Webhook delivery URL must be a valid URL starting with http:// or https://.');
    }
    const name = arg(r, 'name');
    const secret = arg(r, 'secret');
    const created = new Date(now());
    const w: WooWebhook = {
      id: nextWebhookId++,
      name: typeof name === 'string' && name !== '' ? name
        : `Webhook created on ${created.toLocaleString('en-US', { month: 'short', day: '2-digit', year: 'numeric', timeZone: 'UTC' })} @ ${created.toLocaleString('en-US', { hour: '2-digit', minute: '2-digit', hour12: true, timeZone: 'UTC' })}`,
      // The v1–v3 controllers create every webhook active: a `status` in the request is validated, then ignored.
      status: 'active',
      // set_topic() stores the topic as given and blanks it when that exact string is not valid.
      topic: isValidTopic(wcClean(topic)) ? wcClean(topic) : '',
      deliveryUrl: url,
      secret: typeof secret === 'string' && secret !== '' ? secret : wpPassword(50),
      failureCount: 0, pendingDelivery: true, apiVersion: 'wp_api_v3', wpUserId: r.key!.key.wpUserId,
      createdAt: wcDate(nowMs())!, modifiedAt: null,
    };
    webhooks.push(w);
    const body = webhookJson(w); // prepared before the ping, as the controller does
    await deliverPing(w); // its result does not change the 201
    return { status: 201, body, headers: { location: `${origin}/wp-json/wc/v3/webhooks/${w.id}` } };
  }

  async function updateWebhookRest(r: RestRequest, id: number): Promise<RestResult | WpError> {
    const w = webhookById(id);
    if (!w) return WEBHOOK_INVALID_ID(400);
    const topic = arg(r, 'topic');
    if (typeof topic === 'string' && topic !== '') {
      if (!isValidTopic(topic.toLowerCase())) return wpError(400, 'woocommerce_rest_shop_webhook_invalid_topic', 'Webhook topic must be valid.');
    }
    const url = arg(r, 'delivery_url');
    if (typeof url === 'string' && url !== '' && !isValidUrl(url)) {
      return wpError(400, 'woocommerce_rest_shop_webhook_invalid_delivery_url', 'Webhook delivery URL must be a valid URL starting with http:// or https://.');
    }
    if (typeof topic === 'string' && topic !== '') w.topic = isValidTopic(wcClean(topic)) ? wcClean(topic) : '';
    const urlChanged = typeof url === 'string' && url !== '' && url !== w.deliveryUrl;
    if (urlChanged) w.deliveryUrl = url;
    const secret = arg(r, 'secret');
    if (typeof secret === 'string' && secret !== '') w.secret = secret;
    const status = arg(r, 'status');
    if (typeof status === 'string' && status !== '') w.status = status as WooWebhook['status'];
    const name = arg(r, 'name');
    if (typeof name === 'string' && name !== '') w.name = name;
    await saveWebhook(w, urlChanged);
    return { status: 200, body: webhookJson(w) };
  }

  const routes: Route[] = [
    {
      methods: ['GET'], pattern: /^\/wc\/v3\/system_status$/i, denied: CANNOT_LIST,
      handle: () => ({
        status: 200,
        body: {
          environment: { home_url: origin, site_url: origin, version: wcVersion, wp_version: wpVersion, store_id: 'emulated', https: false },
          settings: { currency: storeCurrency, currency_symbol: CURRENCY_SYMBOLS[storeCurrency] ?? storeCurrency, number_of_decimals: 2 },
          active_plugins: [], security: { secure_connection: false, hide_errors: true },
        },
      }),
    },
    {
      methods: ['GET'], pattern: /^\/wc\/v3\/orders$/i, denied: CANNOT_LIST,
      args: (r) => { const a = orderListArgs(r); return isWpError(a) ? a : null; },
      handle: (r) => listOrders(r),
    },
    {
      methods: ['GET'], pattern: /^\/wc\/v3\/orders\/(\d+)$/i, denied: CANNOT_VIEW,
      handle: (_r, m) => {
        const o = orders.get(Number(m[1]));
        return o ? { status: 200, body: orderJson(o) } : ORDER_INVALID_ID(404);
      },
    },
    {
      methods: ['POST', 'PUT', 'PATCH'], pattern: /^\/wc\/v3\/orders\/(\d+)$/i, denied: CANNOT_EDIT,
      args: (r) => {
        const status = arg(r, 'status');
        if (status !== undefined && (typeof status !== 'string' || !WRITABLE_STATUSES.includes(status))) return invalidParam('status', `status is not one of ${WRITABLE_STATUSES.join(', ')}.`);
        const setPaid = boolArg(r, 'set_paid');
        return isWpError(setPaid) ? setPaid : null;
      },
      handle: (r, m) => updateOrderRest(r, Number(m[1])),
    },
    {
      methods: ['GET'], pattern: /^\/wc\/v3\/orders\/(\d+)\/notes$/i, denied: CANNOT_LIST,
      handle: (r, m) => {
        const o = orders.get(Number(m[1]));
        if (!o) return wpError(404, 'woocommerce_rest_order_invalid_id', 'Invalid order ID.');
        const type = arg(r, 'type') ?? 'any';
        const list = o.notes.filter((n) => type === 'any' || (type === 'customer' ? n.customer_note : !n.customer_note));
        return { status: 200, body: list.map((n) => ({ ...n, _links: { self: [{ href: `${origin}/wp-json/wc/v3/orders/${o.id}/notes/${n.id}` }] } })) };
      },
    },
    {
      methods: ['POST'], pattern: /^\/wc\/v3\/orders\/(\d+)\/notes$/i, denied: CANNOT_CREATE,
      args: (r) => {
        if (arg(r, 'note') === undefined) return wpError(400, 'rest_missing_callback_param', 'Missing parameter(s): note', { params: ['note'] });
        for (const b of ['customer_note', 'added_by_user']) { const v = boolArg(r, b); if (isWpError(v)) return v; }
        return null;
      },
      handle: (r, m) => {
        const o = orders.get(Number(m[1]));
        if (!o) return wpError(404, 'woocommerce_rest_order_invalid_id', 'Invalid order ID.');
        const note = String(arg(r, 'note'));
        if (note === '') return wpError(500, 'woocommerce_api_cannot_create_order_note', 'Cannot create order note, please try again.');
        // Adding a note does not save the order: no order.updated, date_modified unchanged.
        const n = addNote(o, note, boolArg(r, 'customer_note') === true, boolArg(r, 'added_by_user') === true ? 'admin' : 'system');
        return { status: 201, body: { ...n }, headers: { location: `${origin}/wp-json/wc/v3/orders/${o.id}/notes/${n.id}` } };
      },
    },
    {
      methods: ['GET'], pattern: /^\/wc\/v3\/webhooks$/i, denied: CANNOT_LIST,
      handle: (r) => {
        const perPage = intArg(r, 'per_page', 10, 1, 100);
        if (isWpError(perPage)) return perPage;
        const page = intArg(r, 'page', 1, 1, Infinity);
        if (isWpError(page)) return page;
        const status = enumArg(r, 'status', ['all', ...WEBHOOK_STATUSES], 'all');
        if (isWpError(status)) return status;
        const order = enumArg(r, 'order', ['asc', 'desc'], 'desc');
        if (isWpError(order)) return order;
        let list = webhooks.filter((w) => status === 'all' || w.status === status).sort((a, b) => a.id - b.id);
        if (order === 'desc') list = list.reverse();
        const { slice, headers } = paginate(list, page, perPage, r.route, r.query);
        return { status: 200, body: slice.map((w) => webhookJson(w)), headers };
      },
    },
    { methods: ['POST'], pattern: /^\/wc\/v3\/webhooks$/i, denied: CANNOT_CREATE, args: (r) => webhookArgs(r, true), handle: (r) => createWebhookRest(r) },
    {
      methods: ['GET'], pattern: /^\/wc\/v3\/webhooks\/(\d+)$/i, denied: CANNOT_VIEW,
      handle: (_r, m) => {
        const w = webhookById(Number(m[1]));
        if (Number(m[1]) === 0) return WEBHOOK_INVALID_ID(404, 'Invalid ID.');
        return w ? { status: 200, body: webhookJson(w) } : WEBHOOK_INVALID_ID(400);
      },
    },
    { methods: ['POST', 'PUT', 'PATCH'], pattern: /^\/wc\/v3\/webhooks\/(\d+)$/i, denied: CANNOT_EDIT, args: (r) => webhookArgs(r, false), handle: (r, m) => updateWebhookRest(r, Number(m[1])) },
    {
      methods: ['DELETE'], pattern: /^\/wc\/v3\/webhooks\/(\d+)$/i, denied: CANNOT_DELETE,
      args: (r) => { const v = boolArg(r, 'force'); return isWpError(v) ? v : null; },
      handle: (r, m) => {
        if (boolArg(r, 'force') !== true) return wpError(501, 'woocommerce_rest_trash_not_supported', 'Webhooks do not support trashing.');
        const w = webhookById(Number(m[1]));
        if (!w) return WEBHOOK_INVALID_ID(404, 'Invalid ID.');
        const body = webhookJson(w);
        webhooks.splice(webhooks.indexOf(w), 1);
        return { status: 200, body };
      },
    },
  ];

  // ---- HTTP plumbing ----

  function sendRest(res: http.ServerResponse, result: RestResult | WpError): void {
    const status = isWpError(result) ? result.data.status : result.status;
    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=UTF-8',
      'x-robots-tag': 'noindex',
      'x-content-type-options': 'nosniff',
      'access-control-expose-headers': 'X-WP-Total, X-WP-TotalPages, Link',
      ...(isWpError(result) ? {} : result.headers ?? {}),
    };
    res.writeHead(status, headers);
    res.end(phpJson(isWpError(result) ? result : result.body));
  }

  async function handleRest(req: http.IncomingMessage, res: http.ServerResponse, rawPath: string, rawQuery: string, rawBody: string): Promise<void> {
    // Faults injected in front of WordPress: the request never reaches it (no nonce is used).
    const delay = delays.shift();
    if (delay !== undefined) await sleep(delay);
    if (closed) return void res.destroy();
    const failure = failures.shift();
    if (failure) {
      res.writeHead(failure.status, {
        'content-type': 'text/html; charset=utf-8',
        ...(failure.retryAfterS !== undefined ? { 'retry-after': String(failure.retryAfterS) } : {}),
      });
      res.end(`<html><head><title>${failure.status}</title></head><body><h1>${failure.status} ${http.STATUS_CODES[failure.status] ?? ''}</h1></body></html>`);
      return;
    }

    const method = (req.method ?? 'GET').toUpperCase();
    const route = `/${rawPath.slice('/wp-json/'.length)}`.replace(/\/+$/, '') || '/';
    const query = phpParseStr(rawQuery);
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    // $_POST exists only for POST with a form body; JSON bodies never reach the OAuth check.
    const post = method === 'POST' && contentType === 'application/x-www-form-urlencoded' ? phpParseStr(rawBody) : phpArr();

    let body: Record<string, unknown> = {};
    if (contentType === 'application/json' && rawBody.trim() !== '') {
      try {
        const parsed: unknown = JSON.parse(rawBody);
        if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
      } catch (err) {
        return sendRest(res, wpError(400, 'rest_invalid_json', 'Invalid JSON body passed.', { json_error_code: 4, json_error_message: (err as Error).message }));
      }
    } else if (contentType === 'application/x-www-form-urlencoded' && rawBody !== '') {
      body = phpToJs(phpParseStr(rawBody)) as Record<string, unknown>;
      if (Array.isArray(body)) body = {};
    }

    // Only routes in the wc/ namespace authenticate with WooCommerce keys.
    let key: StoredKey | null = null;
    if (/^\/wc[/-]/i.test(route)) {
      const authHeader = req.headers.authorization ?? '';
      const auth = authenticate(method, rawPath, query, post, authHeader);
      if (isWpError(auth)) return sendRest(res, auth);
      key = auth;
      if (key) {
        const denied = keyPermissionError(key, method);
        if (denied) return sendRest(res, denied);
        key.key.lastAccess = wcDate(nowMs());
      }
    }

    const r: RestRequest = { method, route, query, body, key, events: [] };
    for (const rt of routes) {
      const m = rt.pattern.exec(route);
      if (!m || !rt.methods.includes(method)) continue;
      const argError = rt.args?.(r) ?? null;
      if (argError) return sendRest(res, argError);
      if (!key) return sendRest(res, wpError(401, rt.denied[0], rt.denied[1]));
      const result = await rt.handle(r, m);
      sendRest(res, result);
      for (const [orderId, topic] of r.events) fireOrderEvent(orderId, topic);
      return;
    }
    sendRest(res, wpError(404, 'rest_no_route', 'No route was found matching the URL and request method.'));
  }


  const server = http.createServer(async (req, res) => {
    try {
      const rawUrl = req.url ?? '/';
      const qAt = rawUrl.indexOf('?');
      const rawPath = qAt < 0 ? rawUrl : rawUrl.slice(0, qAt);
      const rawQuery = qAt < 0 ? '' : rawUrl.slice(qAt + 1);
      const rawBody = await readBody(req, MAX_BODY);
      const entry: LoggedRequest = { method: req.method ?? 'GET', path: rawUrl, headers: req.headers, body: undefined, rawBody };
      try { entry.body = rawBody ? JSON.parse(rawBody) : undefined; } catch { entry.body = rawBody; }
      requests.push(entry);

      if (rawPath.startsWith('/wp-json/')) return await handleRest(req, res, rawPath, rawQuery, rawBody);
      const auth = /^\/wc-auth\/v1\/([^/]*)\/?$/.exec(rawPath);
      if (auth && req.method === 'GET') return await handleAuth(auth[1]!.toLowerCase(), rawQuery, res);
      res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<html><body><h1>Page not found</h1></body></html>');
    } catch (err) {
      if (!res.headersSent) sendRest(res, wpError(500, 'emulator_error', `emulator error: ${(err as Error).message}`));
      else res.destroy();
    }
  });
  const listening = await listenOnLoopback(server);
  origin = listening.origin;

  function parseAuthorizeUrl(authorizeUrl: string): AuthData {
    const url = new URL(authorizeUrl);
    if (url.origin !== origin || !/^\/wc-auth\/v1\/(authorize|login)\/?$/.test(url.pathname)) {
      throw new Error(`WooCommerce emulator: ${authorizeUrl} is not this store's /wc-auth/v1/authorize URL`);
    }
    try {
      return validateAuth(phpParseStr(url.search.slice(1)));
    } catch (err) {
      if (err instanceof AuthPageError) throw new Error(`WooCommerce emulator: the authorize page shows "Error: ${err.message}." — nothing to approve`);
      throw err;
    }
  }

  const emulator: WooCommerceEmulator = {
    origin,
    requests,
    deliveries,
    pings,
    keys,
    webhooks,
    authorizations,

    async approve(authorizeUrl, o = {}) {
      const d = parseAuthorizeUrl(authorizeUrl);
      if (o.deny) {
        findAuthorization(d).state = 'denied';
        return { callbackStatus: null, redirect: denyUrl(d), error: null, key: null };
      }
      // Follow the page's Approve link: its URLs went through one more decode/encode round.
      const granted = new URL(buildAuthUrl(d, 'access_granted'));
      return grantAccess(validateAuth(phpParseStr(granted.search.slice(1))));
    },

    createKey(o = {}) {
      return issueKey('Coinbridge', o.permissions ?? 'read_write', String(merchantUserId), o.description ?? 'Coinbridge (manual)').key;
    },

    revokeKey(consumerKey) {
      deleteKey(consumerKey, 'merchant');
    },

    createOrder(o) {
      const total = formatPrice(o.total);
      const status = o.status ?? 'pending';
      if (!WRITABLE_STATUSES.includes(status)) throw new Error(`WooCommerce emulator: unknown order status ${status}`);
      const id = nextOrderId++;
      const t = nowMs();
      const order: StoredOrder = {
        id, orderKey: `wc_order_${alnum(13)}`, status, currency: o.currency ?? storeCurrency, total,
        paymentMethod: o.paymentMethod ?? 'coinbridge', paymentMethodTitle: o.paymentMethodTitle ?? 'Crypto (Coinbridge)',
        transactionId: '', customerId: o.customerId ?? 0, customerNote: o.customerNote ?? '',
        billing: {
          first_name: 'Pat', last_name: 'Buyer', company: '', address_1: '1 Main St', address_2: '', city: 'Springfield', state: 'IL',
          postcode: '62701', country: 'US', email: o.email ?? 'buyer@example.com', phone: '',
        },
        createdAt: t, modifiedAt: t, paidAt: null, completedAt: null, needsProcessing: o.needsProcessing ?? true,
        meta: [], notes: [], lineItemId: nextCommentId++, paymentCompletions: 0,
      };
      if (['processing', 'completed'].includes(status)) order.paidAt = t;
      if (status === 'completed') order.completedAt = t;
      orders.set(id, order);
      fireOrderEvent(id, 'order.created');
      return orderJson(order);
    },

    updateOrder(id, patch) {
      const o = storedOrder(id);
      if (patch.transactionId !== undefined) o.transactionId = patch.transactionId;
      if (patch.paymentMethod !== undefined) o.paymentMethod = patch.paymentMethod;
      if (patch.paymentMethodTitle !== undefined) o.paymentMethodTitle = patch.paymentMethodTitle;
      if (patch.customerNote !== undefined) o.customerNote = patch.customerNote;
      if (patch.email !== undefined) o.billing.email = patch.email;
      if (patch.total !== undefined) o.total = formatPrice(patch.total);
      if (patch.status !== undefined) {
        if (!WRITABLE_STATUSES.includes(patch.status)) throw new Error(`WooCommerce emulator: unknown order status ${patch.status}`);
        setStatus(o, patch.status, 'admin'); // a manual edit: the note is the merchant's
      }
      o.modifiedAt = nowMs();
      fireOrderEvent(id, 'order.updated');
      return orderJson(o);
    },

    order(id) {
      const o = storedOrder(id);
      return { ...structuredClone(orderJson(o)), notes: structuredClone(o.notes), paymentCompletions: o.paymentCompletions };
    },

    notes(id) {
      return structuredClone(storedOrder(id).notes);
    },

    disableWebhook(id) {
      const w = webhookById(id);
      if (!w) throw new Error(`WooCommerce emulator: no webhook ${id}`);
      w.status = 'disabled';
      w.modifiedAt = wcDate(nowMs());
    },

    deleteWebhook(id) {
      const i = webhooks.findIndex((w) => w.id === id);
      if (i < 0) throw new Error(`WooCommerce emulator: no webhook ${id}`);
      webhooks.splice(i, 1);
    },

    failNext(n, status, o = {}) {
      for (let k = 0; k < n; k++) failures.push({ status, ...(o.retryAfterS !== undefined ? { retryAfterS: o.retryAfterS } : {}) });
    },

    delayNext(n, ms) {
      for (let k = 0; k < n; k++) delays.push(ms);
    },

    async settle() {
      while (draining) await draining;
    },

    advanceTime(ms) {
      clockOffset += ms;
    },

    now,

    async close() {
      if (closed) return;
      closed = true;
      outbound.abort();
      sleepers.wakeAll();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      listening.destroySockets();
      await done;
      await emulator.settle();
    },
  };
  return emulator;
}
