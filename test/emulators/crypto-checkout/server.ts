/**
 * A Crypto Checkout emulator: a real HTTP server on loopback that speaks the published contract
 * (the quickstart, reference/seeds/crypto-checkout-quickstart.txt; docs.mycryptoserver.com for the
 * session object, event envelope and signature), so adapter tests exercise real sockets, real
 * JSON and real HMAC signatures instead of mocks.
 *
 * It signs webhooks with its own few lines of HMAC rather than the adapter's signature.ts, so a
 * mistake there cannot hide by being made twice.
 *
 * Where the published contract is silent the emulator does the plain thing and says so:
 *   - GET /api/v1/checkout_sessions/{id} and GET /api/v1/checkout_sessions?limit=N (list);
 *   - error bodies `{error: {code, message}}`;
 *   - a replayed Idempotency-Key with another body → 422; missing key → still creates (the guide
 *     says "always include", not "required"), recorded on the session as idempotencyKey: null;
 *   - unknown request fields → 400 (strict, so an adapter typo fails loudly);
 *   - retries: 6 attempts in all, backing off 1 h, 2 h, 4 h, 8 h, 16 h (= the documented "~31 hours"),
 *     scaled by `retryBaseMs` so tests run in milliseconds;
 *   - 1 ETH = 4,000 units of any fiat (fixed fake rate); sessions last 5 minutes (documented default).
 * Statuses are set by tests (setStatus); the emulator does not enforce the lifecycle's order.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import { HangingRequests, listenOnLoopback, logged, type LoggedRequest, Sleepers } from '../loopback.ts';

export type { LoggedRequest };

export const SESSION_STATUSES = ['pending', 'detected', 'paid', 'underpaid', 'overpaid', 'paid_late', 'expired', 'failed'] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];
export type FailureMode = '500' | 'timeout';

/** Documented: "up to 6 times over approximately 31 hours using exponential backoff". */
export const MAX_DELIVERY_ATTEMPTS = 6;
/** The real schedule this emulator assumes (ms between attempts): 1 h doubling, 31 h in all. */
export const REAL_RETRY_DELAYS_MS = [1, 2, 4, 8, 16].map((h) => h * 3_600_000);
/** Fixed fake price, so expected amounts are predictable: 1 ETH = 4,000 units of any fiat. */
export const ETH_PRICE = 4_000n;
export const DEFAULT_SESSION_TTL_MS = 5 * 60_000;

/** The session object, keys in the quickstart's order, then the documented metadata and txHash. */
export interface SessionObject {
  id: string;
  object: 'checkout_session';
  status: SessionStatus;
  checkoutUrl: string;
  address: string;
  amount: { wei: string; eth: string };
  fiat: { amount: string; currency: string };
  expiresAt: string;
  livemode: boolean;
  createdAt: string;
  metadata: Record<string, string> | null;
  txHash: string | null;
}

export interface EmulatedEvent {
  id: string;
  type: string;
  livemode: boolean;
  createdAt: string;
  data: SessionObject;
  /** The exact bytes every delivery of this event carries. */
  raw: string;
}

export interface EmulatedSession {
  session: SessionObject;
  apiKey: string;
  /** Null when the create came without an Idempotency-Key. */
  idempotencyKey: string | null;
  successUrl: string | null;
  events: EmulatedEvent[];
}

export interface Delivery {
  eventId: string;
  sessionId: string;
  type: string;
  url: string;
  attempt: number;
  httpStatus?: number;
  error?: string;
  /** What was sent: the body (same bytes on every attempt) and its X-Webhook-Signature. */
  body: string;
  signature: string;
  timestamp: number;
}

export interface Merchant {
  apiKey: string;
  /** The newest secret (what the merchant pastes into Coinbridge after a rotation). */
  webhookSecret: string;
}

export interface CryptoCheckoutEmulator {
  /** The instance origin: the adapter calls `${origin}/api/v1/...`. */
  readonly origin: string;
  readonly requests: LoggedRequest[];
  readonly deliveries: Delivery[];
  addMerchant(): Merchant;
  /** Adds a new secret; until finishRotation, deliveries carry one v1 per active secret. Returns the new one. */
  rotateSecret(apiKey: string): string;
  /** Retires every secret but the newest. */
  finishRotation(apiKey: string): void;
  registerWebhook(apiKey: string, url: string): void;
  /** A copy of a stored session (throws for an unknown id). */
  session(id: string): EmulatedSession;
  sessions(): EmulatedSession[];
  /** Moves a session and records a `session.<status>` event; with notify (default) delivers it, retries included. */
  setStatus(id: string, status: SessionStatus, opts?: { notify?: boolean; txHash?: string }): Promise<EmulatedEvent>;
  /**
   * What a delivery of the session's event for `status` carries, byte for byte: the event already
   * recorded for that status (else a new one, recorded but not delivered), signed at `signedAt`
   * with the merchant's active secrets (or `secrets`, to play a rotation).
   */
  webhook(id: string, status?: SessionStatus, opts?: { signedAt?: Date; secrets?: readonly string[] }): { event: EmulatedEvent; rawBody: Buffer; headers: Record<string, string> };
  /** X-Webhook-Signature for `raw` at unix time `t`, as this emulator signs. */
  sign(secrets: readonly string[], t: number, raw: string): string;
  failNext(what: 'create' | 'status', count: number, mode: FailureMode): void;
  close(): Promise<void>;
}

interface StoredMerchant {
  secrets: string[];
  endpoints: string[];
}

interface Reply {
  status: number;
  body: unknown;
}

class HttpFail extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const MAX_BODY = 64 * 1024;
const HANG_MS = 30_000;
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const ALLOWED_FIELDS = new Set(['amount', 'metadata', 'successUrl']);

/** A ULID-like id, as the documented `cs_01HZ...` suggests: 10 time characters, 16 random. */
function ulid(now: number): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const random = [...crypto.randomBytes(16)].map((b) => CROCKFORD[b % 32]).join('');
  return time + random;
}

/** fiat / ETH_PRICE in wei, rounded half up; and the same in ETH with trailing zeros trimmed. */
export function ethAmount(value: string): { wei: string; eth: string } {
  const [whole = '0', fraction = ''] = value.split('.');
  const den = 10n ** BigInt(fraction.length) * ETH_PRICE;
  const wei = (BigInt(whole + fraction) * 10n ** 18n + den / 2n) / den;
  const digits = wei.toString().padStart(19, '0');
  const eth = `${digits.slice(0, -18)}.${digits.slice(-18)}`.replace(/\.?0+$/, '');
  return { wei: wei.toString(), eth };
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function hmacHex(secret: string, data: string): string {
  return crypto.createHmac('sha256', secret).update(data, 'utf8').digest('hex');
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function isStatus(value: string): value is SessionStatus {
  return (SESSION_STATUSES as readonly string[]).includes(value);
}

export async function startCryptoCheckoutEmulator(opts: {
  /** Scale of the retry backoff: attempt n+1 waits retryBaseMs × 2^(n-1). Default 1 h (the real ~31 h). */
  retryBaseMs?: number;
  /** How long a webhook receiver may take before the attempt counts as failed. */
  webhookTimeoutMs?: number;
  sessionTtlMs?: number;
  /** The emulator's clock (ms), for signature timestamps and session times. */
  now?: () => number;
} = {}): Promise<CryptoCheckoutEmulator> {
  const retryBaseMs = opts.retryBaseMs ?? REAL_RETRY_DELAYS_MS[0]!;
  const webhookTimeoutMs = opts.webhookTimeoutMs ?? 10_000;
  const sessionTtlMs = opts.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS;
  const now = opts.now ?? Date.now;

  const merchants = new Map<string, StoredMerchant>();
  const sessions = new Map<string, EmulatedSession>();
  /** `${apiKey}\n${idempotencyKey}` → what the key was first used for. */
  const idempotency = new Map<string, { fingerprint: string; sessionId: string }>();
  const requests: LoggedRequest[] = [];
  const deliveries: Delivery[] = [];
  const failures = { create: [] as FailureMode[], status: [] as FailureMode[] };
  let closed = false;
  let origin = '';

  const hanging = new HangingRequests(HANG_MS);
  const sleepers = new Sleepers();
  const outbound = new AbortController();

  const sleep = (ms: number): Promise<void> => sleepers.sleep(ms);

  function merchantOf(apiKey: string): StoredMerchant {
    const m = merchants.get(apiKey);
    if (!m) throw new Error(`Crypto Checkout emulator: unknown merchant ${apiKey}`);
    return m;
  }

  function stored(id: string): EmulatedSession {
    const s = sessions.get(id);
    if (!s) throw new Error(`Crypto Checkout emulator: no session ${id}`);
    return s;
  }

  function sign(secrets: readonly string[], t: number, raw: string): string {
    // Newest secret first: during a rotation the current one is what most receivers hold.
    return [`t=${t}`, ...[...secrets].reverse().map((s) => `v1=${hmacHex(s, `${t}.${raw}`)}`)].join(',');
  }

  function recordEvent(s: EmulatedSession, status: SessionStatus): EmulatedEvent {
    const data: SessionObject = { ...structuredClone(s.session), status };
    const id = `evt_${ulid(now())}`;
    const createdAt = new Date(now()).toISOString();
    // Envelope fields in the documented order; compact JSON, so re-serialising changes the bytes.
    const raw = JSON.stringify({ id, type: `session.${status}`, livemode: data.livemode, createdAt, data });
    const event: EmulatedEvent = { id, type: `session.${status}`, livemode: data.livemode, createdAt, data, raw };
    s.events.push(event);
    return event;
  }

  function headersFor(raw: string, secrets: readonly string[], t: number): Record<string, string> {
    return {
      'Content-Type': 'application/json',
      'X-Webhook-Signature': sign(secrets, t, raw),
      'X-Webhook-Timestamp': String(t),
    };
  }

  /** One attempt; never throws, the outcome goes to `deliveries`. Signed afresh: a retry gets a new `t`. */
  async function deliverOnce(s: EmulatedSession, event: EmulatedEvent, url: string, attempt: number): Promise<Delivery> {
    const t = Math.floor(now() / 1000);
    const headers = headersFor(event.raw, merchantOf(s.apiKey).secrets, t);
    const entry: Delivery = { eventId: event.id, sessionId: s.session.id, type: event.type, url, attempt, body: event.raw, signature: headers['X-Webhook-Signature']!, timestamp: t };
    try {
      const res = await fetch(url, {
        method: 'POST', headers, body: event.raw, redirect: 'manual',
        signal: AbortSignal.any([AbortSignal.timeout(webhookTimeoutMs), outbound.signal]),
      });
      entry.httpStatus = res.status;
      await res.arrayBuffer();
    } catch (err) {
      entry.error = (err as Error).name === 'TimeoutError' ? `no answer within ${webhookTimeoutMs} ms` : (err as Error).message;
    }
    deliveries.push(entry);
    return entry;
  }

  /** At-least-once: non-2xx, network errors and timeouts are failures; up to 6 attempts with doubling delays. */
  async function deliver(s: EmulatedSession, event: EmulatedEvent): Promise<void> {
    await Promise.all(merchantOf(s.apiKey).endpoints.map(async (url) => {
      for (let attempt = 1; attempt <= MAX_DELIVERY_ATTEMPTS && !closed; attempt++) {
        const result = await deliverOnce(s, event, url, attempt);
        if (result.httpStatus !== undefined && result.httpStatus >= 200 && result.httpStatus < 300) return;
        if (attempt < MAX_DELIVERY_ATTEMPTS) await sleep(retryBaseMs * 2 ** (attempt - 1));
      }
    }));
  }

  // ---- HTTP ----

  function authenticate(req: http.IncomingMessage): string {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m || !merchants.has(m[1]!)) throw new HttpFail(401, 'unauthorized', m ? 'Invalid API key' : 'Missing API key: send Authorization: Bearer ck_test_…');
    return m[1]!;
  }

  function jsonBody(req: http.IncomingMessage, raw: string): Record<string, unknown> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') throw new HttpFail(415, 'unsupported_media_type', 'Content-Type must be application/json');
    let parsed: unknown;
    try { parsed = JSON.parse(raw); } catch { throw new HttpFail(400, 'invalid_json', 'Request body is not valid JSON'); }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new HttpFail(400, 'invalid_request', 'Request body must be a JSON object');
    return parsed as Record<string, unknown>;
  }

  function validateCreate(body: Record<string, unknown>): { value: string; currency: string; metadata: Record<string, string> | null; successUrl: string | null } {
    for (const key of Object.keys(body)) if (!ALLOWED_FIELDS.has(key)) throw new HttpFail(400, 'invalid_request', `Unknown field "${key}"`);
    const amount = body.amount;
    if (typeof amount !== 'object' || amount === null || Array.isArray(amount)) throw new HttpFail(400, 'invalid_request', 'amount is required: {value, currency}');
    const { value, currency } = amount as Record<string, unknown>;
    if (typeof value !== 'string') throw new HttpFail(400, 'invalid_request', 'amount.value must be a decimal string such as "50.00"');
    if (!/^\d{1,12}(\.\d{1,8})?$/.test(value) || !/[1-9]/.test(value)) throw new HttpFail(400, 'invalid_request', `amount.value "${value}" is not a positive decimal`);
    if (typeof currency !== 'string' || !/^[A-Za-z]{3}$/.test(currency)) throw new HttpFail(400, 'invalid_request', 'amount.currency must be a three-letter currency code');
    let metadata: Record<string, string> | null = null;
    if (body.metadata !== undefined && body.metadata !== null) {
      if (typeof body.metadata !== 'object' || Array.isArray(body.metadata)) throw new HttpFail(400, 'invalid_request', 'metadata must be an object');
      const entries = Object.entries(body.metadata as Record<string, unknown>);
      if (entries.length > 50) throw new HttpFail(400, 'invalid_request', 'metadata has more than 50 keys');
      for (const [k, v] of entries) {
        if (typeof v !== 'string' || v.length > 500) throw new HttpFail(400, 'invalid_request', `metadata.${k} must be a string of at most 500 characters`);
      }
      metadata = Object.fromEntries(entries) as Record<string, string>;
    }
    let successUrl: string | null = null;
    if (body.successUrl !== undefined && body.successUrl !== null) {
      let ok = false;
      try { ok = typeof body.successUrl === 'string' && /^https?:$/.test(new URL(body.successUrl).protocol); } catch { ok = false; }
      if (!ok) throw new HttpFail(400, 'invalid_request', 'successUrl must be an http(s) URL');
      successUrl = body.successUrl as string;
    }
    return { value, currency: currency.toUpperCase(), metadata, successUrl };
  }

  function createSession(apiKey: string, input: ReturnType<typeof validateCreate>, idempotencyKey: string | null): EmulatedSession {
    const created = now();
    const id = `cs_${ulid(created)}`;
    const session: SessionObject = {
      id,
      object: 'checkout_session',
      status: 'pending',
      checkoutUrl: `${origin}/checkout/${id}`,
      address: `0x${crypto.randomBytes(20).toString('hex')}`,
      amount: ethAmount(input.value),
      fiat: { amount: input.value, currency: input.currency },
      expiresAt: new Date(created + sessionTtlMs).toISOString(),
      livemode: apiKey.startsWith('ck_live_'),
      createdAt: new Date(created).toISOString(),
      metadata: input.metadata,
      txHash: null,
    };
    const s: EmulatedSession = { session, apiKey, idempotencyKey, successUrl: input.successUrl, events: [] };
    sessions.set(id, s);
    return s;
  }

  async function route(req: http.IncomingMessage, url: URL, raw: string, res: http.ServerResponse): Promise<Reply | 'hang' | 'done'> {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    const page = /^\/checkout\/([^/]+)$/.exec(path);
    if (method === 'GET' && page) {
      const s = sessions.get(decodeURIComponent(page[1]!));
      res.writeHead(s ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' });
      res.end(s
        ? `<!doctype html><title>Crypto Checkout</title><h1>Send ${escapeHtml(s.session.amount.eth)} ETH</h1><p>to ${escapeHtml(s.session.address)} — ${escapeHtml(s.session.fiat.amount)} ${escapeHtml(s.session.fiat.currency)}</p><p>Status: ${escapeHtml(s.session.status)}</p>`
        : '<!doctype html><title>Crypto Checkout</title><h1>Session not found</h1>');
      return 'done';
    }
    if (!path.startsWith('/api/v1/')) throw new HttpFail(404, 'not_found', `No route for ${method} ${path}`);
    const apiKey = authenticate(req);

    if (path === '/api/v1/checkout_sessions') {
      if (method === 'POST') {
        const header = req.headers['idempotency-key'];
        const key = Array.isArray(header) ? header[0]! : header ?? null;
        if (key !== null && !/^[\x21-\x7e]{1,255}$/.test(key)) throw new HttpFail(400, 'invalid_request', 'Idempotency-Key must be 1–255 visible ASCII characters');
        const body = jsonBody(req, raw);
        const input = validateCreate(body);
        const failure = failures.create.shift();
        if (failure === '500') throw new HttpFail(500, 'internal_error', 'An unexpected error occurred');
        const fingerprint = canonicalJson(body);
        let s: EmulatedSession;
        const previous = key === null ? undefined : idempotency.get(`${apiKey}\n${key}`);
        if (previous) {
          if (previous.fingerprint !== fingerprint) {
            throw new HttpFail(422, 'idempotency_key_reused', 'This Idempotency-Key was already used with different request parameters');
          }
          s = stored(previous.sessionId);
        } else {
          s = createSession(apiKey, input, key);
          if (key !== null) idempotency.set(`${apiKey}\n${key}`, { fingerprint, sessionId: s.session.id });
        }
        // A timeout after the session exists: the response is lost, the session is not.
        if (failure === 'timeout') return 'hang';
        return { status: previous ? 200 : 201, body: s.session };
      }
      if (method === 'GET') {
        const limitText = url.searchParams.get('limit') ?? '25';
        const limit = /^\d{1,3}$/.test(limitText) ? Number(limitText) : NaN;
        if (!(limit >= 1 && limit <= 100)) throw new HttpFail(400, 'invalid_request', 'limit must be between 1 and 100');
        const own = [...sessions.values()].filter((s) => s.apiKey === apiKey).reverse();
        return { status: 200, body: { object: 'list', data: own.slice(0, limit).map((s) => s.session), hasMore: own.length > limit } };
      }
      throw new HttpFail(405, 'method_not_allowed', `${method} is not allowed on ${path}`);
    }

    const one = /^\/api\/v1\/checkout_sessions\/([^/]+)$/.exec(path);
    if (one) {
      if (method !== 'GET') throw new HttpFail(405, 'method_not_allowed', `${method} is not allowed on ${path}`);
      const failure = failures.status.shift();
      if (failure === '500') throw new HttpFail(500, 'internal_error', 'An unexpected error occurred');
      if (failure === 'timeout') return 'hang';
      const id = decodeURIComponent(one[1]!);
      const s = sessions.get(id);
      // Another merchant's session is indistinguishable from an unknown one.
      if (!s || s.apiKey !== apiKey) throw new HttpFail(404, 'not_found', `No such checkout session: ${id}`);
      return { status: 200, body: s.session };
    }
    throw new HttpFail(404, 'not_found', `No route for ${method} ${path}`);
  }

  function send(res: http.ServerResponse, reply: Reply): void {
    res.writeHead(reply.status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(reply.body));
  }

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://emulator');
    try {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > MAX_BODY) throw new HttpFail(413, 'payload_too_large', 'Request body too large');
        chunks.push(chunk as Buffer);
      }
      const raw = Buffer.concat(chunks).toString('utf8');
      requests.push(logged(req, url, raw));

      const reply = await route(req, url, raw, res);
      if (reply === 'done') return;
      if (reply === 'hang') {
        hanging.hold(req);
        return;
      }
      send(res, reply);
    } catch (err) {
      if (err instanceof HttpFail) send(res, { status: err.status, body: { error: { code: err.code, message: err.message } } });
      else send(res, { status: 500, body: { error: { code: 'internal_error', message: `emulator error: ${(err as Error).message}` } } });
    }
  });
  const listening = await listenOnLoopback(server);
  origin = listening.origin;

  return {
    origin,
    requests,
    deliveries,

    addMerchant() {
      const apiKey = `ck_test_${crypto.randomBytes(18).toString('base64url')}`;
      const webhookSecret = `whsec_${crypto.randomBytes(24).toString('base64url')}`;
      merchants.set(apiKey, { secrets: [webhookSecret], endpoints: [] });
      return { apiKey, webhookSecret };
    },

    rotateSecret(apiKey) {
      const secret = `whsec_${crypto.randomBytes(24).toString('base64url')}`;
      merchantOf(apiKey).secrets.push(secret);
      return secret;
    },

    finishRotation(apiKey) {
      const m = merchantOf(apiKey);
      m.secrets = m.secrets.slice(-1);
    },

    registerWebhook(apiKey, url) {
      merchantOf(apiKey).endpoints.push(url);
    },

    session(id) {
      return structuredClone(stored(id));
    },

    sessions() {
      return [...sessions.values()].map((s) => structuredClone(s));
    },

    async setStatus(id, status, o = {}) {
      if (!isStatus(status)) throw new Error(`Crypto Checkout emulator: "${status}" is not a session status`);
      const s = stored(id);
      s.session.status = status;
      if (o.txHash !== undefined) s.session.txHash = o.txHash;
      else if (s.session.txHash === null && status !== 'pending' && status !== 'expired' && status !== 'failed') {
        s.session.txHash = `0x${crypto.randomBytes(32).toString('hex')}`;
      }
      const event = recordEvent(s, status);
      if (o.notify !== false) await deliver(s, event);
      return structuredClone(event);
    },

    webhook(id, status, o = {}) {
      const s = stored(id);
      const wanted = status ?? s.session.status;
      const event = s.events.findLast((e) => e.data.status === wanted) ?? recordEvent(s, wanted);
      const t = Math.floor((o.signedAt?.getTime() ?? now()) / 1000);
      return { event: structuredClone(event), rawBody: Buffer.from(event.raw, 'utf8'), headers: headersFor(event.raw, o.secrets ?? merchantOf(s.apiKey).secrets, t) };
    },

    sign,

    failNext(what, count, mode) {
      for (let i = 0; i < count; i++) failures[what].push(mode);
    },

    async close() {
      if (closed) return;
      closed = true;
      outbound.abort();
      sleepers.wakeAll();
      hanging.close();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      listening.destroySockets();
      await done;
    },
  };
}
