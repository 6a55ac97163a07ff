/**
 * A CryptoNow emulator: a real HTTP server on loopback that plays CryptoNow's website scenario as
 * the public guide describes it (reference seed `cryptonow-vending-integration.txt`), so the
 * adapter is tested over real sockets, real JSON and real HMAC signatures.
 *
 * Where the guide is silent it follows the same assumptions as src/gateways/cryptonow/protocol.ts
 * (paths, JSON layout) — but it is written independently: it does NOT import the adapter's
 * signature code, so a bug in the adapter's signing is refused here with a 401.
 *
 * Assumed signature (re-implemented here): X-Signature = hex HMAC-SHA256 keyed with the private
 * key over the exact body bytes, or over the path and query for a request without a body; the
 * same over webhook bodies.
 *
 * Webhook retries: the guide says CryptoNow retries non-2xx answers "according to the retry
 * schedule" without publishing it. This emulator retries after 10 s, 60 s and 300 s (then gives
 * up), multiplied by `retryDelayScale` so tests can run the schedule in milliseconds.
 *
 * Tests drive it through plain methods (pay, close, payLate, failNext, …), not over HTTP.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import { listenOnLoopback, type LoggedRequest, readBody, Sleepers } from '../loopback.ts';

export type CommissionMode = 'merchant' | 'customer';
export type SessionStatus = 'active' | 'paid' | 'closed';
export type Failure = '500' | 'timeout';
/** How the emulator authenticated a request. */
export type AuthVerdict = 'ok' | 'unknown_public_key' | 'missing_signature' | 'bad_signature' | 'none';

export interface CryptoNowLoggedRequest extends LoggedRequest {
  auth: AuthVerdict;
  /** The HTTP status the emulator answered (undefined while hanging). */
  answered?: number;
}

export interface EmulatedMerchant {
  publicKey: string;
  privateKey: string;
  commission: CommissionMode;
  /** CryptoNow's fee in percent of the amount (1 = 1 %). */
  feePercent: number;
  webhookUrl: string | null;
}

export interface EmulatedSession {
  sessionKey: string;
  paymentId: string;
  publicKey: string;
  orderId: string;
  /** USD asked by the merchant, as sent. */
  amount: string;
  /** USDC the shopper must send, 6 decimals. */
  totalAmount: string;
  /** CryptoNow's fee, 6 decimals (added on top in customer mode, deducted in merchant mode). */
  feeAmount: string;
  commission: CommissionMode;
  returnUrl: string | null;
  successUrl: string | null;
  status: SessionStatus;
  lastEvent: string;
  txid: string | null;
  payerWallet: string | null;
  createdAt: Date;
  expiresAt: Date;
  closedAt: Date | null;
  paidAt: Date | null;
}

export interface WebhookDelivery {
  event: string;
  /** The session (or scan) the event is about. */
  subject: string;
  attempt: number;
  url: string | null;
  httpStatus?: number;
  error?: string;
  /** Exactly what was sent. */
  body: string;
  signature: string;
}

export interface CryptoNowEmulator {
  readonly origin: string;
  readonly requests: CryptoNowLoggedRequest[];
  readonly deliveries: WebhookDelivery[];
  addMerchant(opts?: { commission?: CommissionMode; feePercent?: number; webhookUrl?: string | null }): EmulatedMerchant;
  /** The dashboard's webhook URL setting (there is no API for it). */
  setWebhookUrl(publicKey: string, url: string | null): void;
  /** A copy of a stored session (throws for an unknown key). */
  session(sessionKey: string): EmulatedSession;
  sessionByOrder(publicKey: string, orderId: string): EmulatedSession | undefined;
  /** The shopper's wallet pays total_amount: payment.success with txid and payer_wallet. */
  pay(sessionKey: string, opts?: { notify?: boolean }): Promise<void>;
  /** Payment confirmed after the window closed (the guide allows it): closes first if still active. */
  payLate(sessionKey: string, opts?: { notify?: boolean }): Promise<void>;
  /** Shuts the emulator down at once, hanging sockets and pending retries included. */
  close(): Promise<void>;
  /** The window ends or the shopper leaves with nothing paid: session.closed. */
  close(sessionKey: string, opts?: { notify?: boolean }): Promise<void>;
  /** The next `count` calls of that kind fail this way. */
  failNext(kind: 'create' | 'status', count: number, mode: Failure): void;
  /** The webhook body the emulator sends for `event` about this session, byte for byte. */
  webhookBody(sessionKey: string, event: string): string;
  /** A signed webhook about this session, as it would be delivered. */
  signedWebhook(sessionKey: string, event: string): { rawBody: Buffer; headers: Record<string, string> };
  /** A signed event with any `data` (vending scans, events from the future). */
  signedEvent(publicKey: string, event: string, data: Record<string, unknown>): { rawBody: Buffer; headers: Record<string, string> };
  /** The emulator's own signature over `payload` with the merchant's private key. */
  sign(publicKey: string, payload: string | Buffer): string;
  /** Delivers a signed event once, with retries as configured (resolves after the last attempt). */
  deliver(publicKey: string, event: string, rawBody: string, subject: string): Promise<void>;
  /** Waits until every webhook started so far (payment.created included) has finished its attempts. */
  idle(): Promise<void>;
}

const PAYMENT_WINDOW_MS = 3 * 60_000;
const RETRY_SCHEDULE_MS = [10_000, 60_000, 300_000];
const MAX_BODY = 64 * 1024;
const HANG_MS = 30_000;
const MICRO = 1_000_000n;
const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

function base58(bytes: Buffer): string {
  let n = BigInt('0x' + (bytes.toString('hex') || '0'));
  let out = '';
  while (n > 0n) { out = BASE58[Number(n % 58n)]! + out; n /= 58n; }
  for (const b of bytes) { if (b !== 0) break; out = '1' + out; }
  return out;
}

function micro6(units: bigint): string {
  return `${units / MICRO}.${(units % MICRO).toString().padStart(6, '0')}`;
}

/** "12.50" → 12_500_000 micro-dollars; undefined for anything but a positive USD amount. */
function usdToMicro(value: unknown): bigint | undefined {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : typeof value === 'string' ? value : undefined;
  const m = text === undefined ? null : /^(\d{1,12})(?:\.(\d{1,2}))?$/.exec(text);
  if (!m) return undefined;
  const units = BigInt(m[1]!) * MICRO + BigInt(((m[2] ?? '') + '000000').slice(0, 6));
  return units > 0n ? units : undefined;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function isHttpUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

class HttpFail extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export async function startCryptoNowEmulator(opts: {
  /** The payment window after Create Payment (the guide's default: 3 minutes). */
  paymentWindowMs?: number;
  /** Multiplies the retry schedule (10 s, 60 s, 300 s): 0.001 runs it in 10, 60, 300 ms. */
  retryDelayScale?: number;
  /** 'wrapped' answers `{ success: true, data: {...} }` instead of the bare object. */
  responseShape?: 'bare' | 'wrapped';
} = {}): Promise<CryptoNowEmulator> {
  const windowMs = opts.paymentWindowMs ?? PAYMENT_WINDOW_MS;
  const retryDelays = RETRY_SCHEDULE_MS.map((ms) => ms * (opts.retryDelayScale ?? 1));
  const wrapped = opts.responseShape === 'wrapped';

  const merchants = new Map<string, EmulatedMerchant>();
  const sessions = new Map<string, EmulatedSession>();
  const requests: CryptoNowLoggedRequest[] = [];
  const deliveries: WebhookDelivery[] = [];
  const failures: Record<'create' | 'status', Failure[]> = { create: [], status: [] };
  let closed = false;

  // Everything that could outlive close() is tracked so close() can cut it short.
  const timers = new Set<NodeJS.Timeout>();
  const sleepers = new Sleepers();
  const inFlight = new Set<Promise<void>>();
  const outbound = new AbortController();

  function later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => { timers.delete(timer); fn(); }, ms);
    timer.unref();
    timers.add(timer);
  }

  const sleep = (ms: number): Promise<void> => sleepers.sleep(ms);

  function merchantOf(publicKey: string): EmulatedMerchant {
    const m = merchants.get(publicKey);
    if (!m) throw new Error(`CryptoNow emulator: unknown merchant ${publicKey}`);
    return m;
  }

  function stored(sessionKey: string): EmulatedSession {
    const s = sessions.get(sessionKey);
    if (!s) throw new Error(`CryptoNow emulator: no session ${sessionKey}`);
    return s;
  }

  function hmacHex(privateKey: string, payload: string | Buffer): string {
    return crypto.createHmac('sha256', privateKey).update(payload).digest('hex');
  }

  /** Hex in either case, compared in constant time. */
  function signatureMatches(privateKey: string, payload: string | Buffer, header: string): boolean {
    if (!/^[0-9a-fA-F]{64}$/.test(header)) return false;
    return crypto.timingSafeEqual(Buffer.from(header.toLowerCase(), 'hex'), Buffer.from(hmacHex(privateKey, payload), 'hex'));
  }

  function statusAfter(event: string, s: EmulatedSession): string {
    if (event === 'payment.success') return 'paid';
    if (event === 'session.closed') return 'closed';
    if (event === 'payment.created' || event === 'session.active') return 'active';
    return s.status;
  }

  function sessionWebhookBody(s: EmulatedSession, event: string): string {
    // Compact JSON in a fixed key order: re-serialising changes the bytes, which signatures notice.
    return JSON.stringify({
      event,
      data: {
        order_id: s.orderId, payment_id: s.paymentId, session_key: s.sessionKey, status: statusAfter(event, s),
        amount: s.amount, total_amount: s.totalAmount, currency: 'USD', txid: s.txid, payer_wallet: s.payerWallet,
      },
    });
  }

  async function deliverOnce(url: string | null, event: string, subject: string, raw: string, signature: string, attempt: number): Promise<WebhookDelivery> {
    const entry: WebhookDelivery = { event, subject, attempt, url, body: raw, signature };
    if (!url) {
      entry.error = 'no webhook URL set in the merchant dashboard';
    } else {
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-Signature': signature },
          body: raw,
          signal: AbortSignal.any([AbortSignal.timeout(5_000), outbound.signal]),
          redirect: 'manual',
        });
        entry.httpStatus = res.status;
        await res.text();
      } catch (err) {
        entry.error = (err as Error).message;
      }
    }
    deliveries.push(entry);
    return entry;
  }

  /** First attempt, then the retry schedule while the answer is not 2xx; the same bytes every time. */
  function deliver(publicKey: string, event: string, raw: string, subject: string): Promise<void> {
    const m = merchantOf(publicKey);
    const signature = hmacHex(m.privateKey, raw);
    const run = (async () => {
      for (let attempt = 1; attempt <= retryDelays.length + 1 && !closed; attempt++) {
        const result = await deliverOnce(m.webhookUrl, event, subject, raw, signature, attempt);
        if (result.url === null || (result.httpStatus !== undefined && result.httpStatus >= 200 && result.httpStatus < 300)) return;
        const delay = retryDelays[attempt - 1];
        if (delay === undefined) return;
        await sleep(delay);
      }
    })();
    inFlight.add(run);
    void run.finally(() => inFlight.delete(run));
    return run;
  }

  function notify(s: EmulatedSession, event: string): Promise<void> {
    return deliver(s.publicKey, event, sessionWebhookBody(s, event), s.sessionKey);
  }

  function closeSession(s: EmulatedSession): void {
    s.status = 'closed';
    s.lastEvent = 'session.closed';
    s.closedAt = new Date();
  }

  function paySession(s: EmulatedSession): void {
    s.status = 'paid';
    s.lastEvent = 'payment.success';
    s.paidAt = new Date();
    s.txid = base58(crypto.randomBytes(64));
    s.payerWallet = base58(crypto.randomBytes(32));
  }

  function sessionJson(s: EmulatedSession): Record<string, unknown> {
    return {
      session_key: s.sessionKey, payment_id: s.paymentId, order_id: s.orderId, status: s.status, last_event: s.lastEvent,
      amount: s.amount, total_amount: s.totalAmount, fee_amount: s.feeAmount, commission_mode: s.commission, currency: 'USD',
      txid: s.txid, payer_wallet: s.payerWallet, url: `${origin}/pay/${s.sessionKey}`,
      created_at: s.createdAt.toISOString(), expires_at: s.expiresAt.toISOString(),
      paid_at: s.paidAt?.toISOString() ?? null,
    };
  }

  // ---- HTTP ----

  function createPayment(m: EmulatedMerchant, rawBody: string): Record<string, unknown> {
    let body: unknown;
    try { body = JSON.parse(rawBody); } catch { throw new HttpFail(400, 'Request body must be valid JSON'); }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpFail(400, 'Request body must be a JSON object');
    const b = body as Record<string, unknown>;
    const hasWebsite = b.return_url !== undefined || b.success_url !== undefined;
    if (b.qr_id !== undefined && hasWebsite) throw new HttpFail(400, 'return_url and success_url must not be sent together with qr_id');
    if (b.qr_id !== undefined) throw new HttpFail(400, 'Unknown qr_id (this emulator has no vending QR codes)');
    if (typeof b.order_id !== 'string' || b.order_id.length === 0 || b.order_id.length > 128) throw new HttpFail(400, 'order_id is required (1–128 characters)');
    if (b.currency !== 'USD') throw new HttpFail(400, `Only USD is supported, got currency ${JSON.stringify(b.currency ?? null)}`);
    const amount = usdToMicro(b.amount);
    if (amount === undefined) throw new HttpFail(400, 'amount must be a positive USD amount with at most 2 decimals');
    for (const field of ['return_url', 'success_url'] as const) {
      if (b[field] !== undefined && !isHttpUrl(b[field])) throw new HttpFail(400, `${field} must be an absolute http(s) URL`);
    }
    for (const s of sessions.values()) {
      if (s.publicKey === m.publicKey && s.orderId === b.order_id) throw new HttpFail(409, `Payment with order_id ${b.order_id} already exists`);
    }
    // Fee rounded up to the micro-dollar: added on top (customer) or deducted from the amount (merchant).
    const fee = (amount * BigInt(Math.round(m.feePercent * 100)) + 9_999n) / 10_000n;
    const total = m.commission === 'customer' ? amount + fee : amount;
    const now = new Date();
    const s: EmulatedSession = {
      sessionKey: crypto.randomBytes(24).toString('base64url'),
      paymentId: crypto.randomUUID(),
      publicKey: m.publicKey,
      orderId: b.order_id,
      amount: String(b.amount),
      totalAmount: micro6(total),
      feeAmount: micro6(fee),
      commission: m.commission,
      returnUrl: typeof b.return_url === 'string' ? b.return_url : null,
      successUrl: typeof b.success_url === 'string' ? b.success_url : null,
      status: 'active',
      lastEvent: 'payment.created',
      txid: null,
      payerWallet: null,
      createdAt: now,
      expiresAt: new Date(now.getTime() + windowMs),
      closedAt: null,
      paidAt: null,
    };
    sessions.set(s.sessionKey, s);
    later(windowMs, () => {
      if (s.status !== 'active' || closed) return;
      closeSession(s);
      void notify(s, 'session.closed');
    });
    if (m.webhookUrl) void notify(s, 'payment.created');
    return {
      payment_id: s.paymentId, session_key: s.sessionKey, url: `${origin}/pay/${s.sessionKey}`, order_id: s.orderId,
      amount: s.amount, total_amount: s.totalAmount, fee_amount: s.feeAmount, currency: 'USD', status: s.status, expires_at: s.expiresAt.toISOString(),
    };
  }

  function authenticate(req: http.IncomingMessage, rawBody: Buffer): { verdict: AuthVerdict; merchant?: EmulatedMerchant } {
    const key = req.headers['x-public-key'];
    const publicKey = Array.isArray(key) ? key[0] : key;
    const merchant = publicKey ? merchants.get(publicKey) : undefined;
    if (!merchant) return { verdict: 'unknown_public_key' };
    const sig = req.headers['x-signature'];
    const signature = Array.isArray(sig) ? sig[0] : sig;
    if (!signature) return { verdict: 'missing_signature' };
    const payload = rawBody.length > 0 ? rawBody : (req.url ?? '/');
    return signatureMatches(merchant.privateKey, payload, signature) ? { verdict: 'ok', merchant } : { verdict: 'bad_signature' };
  }

  function send(res: http.ServerResponse, entry: CryptoNowLoggedRequest, status: number, body: unknown): void {
    entry.answered = status;
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(status < 400 && wrapped ? { success: true, data: body } : body));
  }

  function hang(req: http.IncomingMessage): void {
    // Never answer: the client's own deadline has to fire. Drop the socket after HANG_MS like a dead upstream.
    later(HANG_MS, () => req.socket.destroy());
  }

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const entry: CryptoNowLoggedRequest = { method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body: undefined, rawBody: '', auth: 'none' };
    try {
      let raw: Buffer;
      try {
        raw = Buffer.from(await readBody(req, MAX_BODY), 'utf8');
      } catch {
        throw new HttpFail(413, 'request body too large');
      }
      entry.rawBody = raw.toString('utf8');
      try { entry.body = entry.rawBody ? JSON.parse(entry.rawBody) : undefined; } catch { entry.body = entry.rawBody; }
      requests.push(entry);

      const page = /^\/pay\/([A-Za-z0-9_-]+)$/.exec(url.pathname);
      if (req.method === 'GET' && page) {
        const s = sessions.get(page[1]!);
        entry.answered = s ? 200 : 404;
        res.writeHead(entry.answered, { 'content-type': 'text/html; charset=utf-8' });
        res.end(s
          ? `<!doctype html><title>CryptoNow</title><h1>Send ${escapeHtml(s.totalAmount)} USDC</h1><p>Solana · order ${escapeHtml(s.orderId)} · ${escapeHtml(s.amount)} USD · ${escapeHtml(s.status)}</p>`
          : '<!doctype html><title>CryptoNow</title><h1>Session not found</h1>');
        return;
      }
      if (!url.pathname.startsWith('/api/')) throw new HttpFail(404, `No route for ${req.method} ${url.pathname}`);

      const auth = authenticate(req, raw);
      entry.auth = auth.verdict;
      if (!auth.merchant) {
        throw new HttpFail(401, auth.verdict === 'unknown_public_key' ? 'Unknown or missing X-Public-Key' : auth.verdict === 'missing_signature' ? 'X-Signature header is required' : 'Invalid signature');
      }
      const sessionMatch = /^\/api\/v1\/sessions\/([^/]+)$/.exec(url.pathname);
      if (req.method === 'POST' && url.pathname === '/api/v1/payments') {
        const failure = failures.create.shift();
        if (failure === '500') throw new HttpFail(500, 'Internal server error');
        if (failure === 'timeout') return hang(req);
        return send(res, entry, 200, createPayment(auth.merchant, entry.rawBody));
      }
      if (req.method === 'GET' && sessionMatch) {
        const failure = failures.status.shift();
        if (failure === '500') throw new HttpFail(500, 'Internal server error');
        if (failure === 'timeout') return hang(req);
        const s = sessions.get(decodeURIComponent(sessionMatch[1]!));
        // Another merchant's session is indistinguishable from an unknown one.
        if (!s || s.publicKey !== auth.merchant.publicKey) throw new HttpFail(404, 'Session not found');
        return send(res, entry, 200, sessionJson(s));
      }
      throw new HttpFail(404, `No route for ${req.method} ${url.pathname}`);
    } catch (err) {
      if (!requests.includes(entry)) requests.push(entry);
      if (err instanceof HttpFail) send(res, entry, err.status, { success: false, error: err.message });
      else send(res, entry, 500, { success: false, error: `emulator error: ${(err as Error).message}` });
    }
  });
  const { origin, destroySockets } = await listenOnLoopback(server);

  async function shutDown(): Promise<void> {
    if (closed) return;
    closed = true;
    outbound.abort();
    sleepers.wakeAll();
    for (const t of timers) clearTimeout(t);
    timers.clear();
    const done = new Promise<void>((resolve) => server.close(() => resolve()));
    destroySockets();
    await done;
  }

  return {
    origin,
    requests,
    deliveries,

    addMerchant(o = {}) {
      const m: EmulatedMerchant = {
        publicKey: 'pub_' + crypto.randomBytes(16).toString('hex'),
        privateKey: 'priv_' + crypto.randomBytes(32).toString('hex'),
        commission: o.commission ?? 'customer',
        feePercent: o.feePercent ?? 1,
        webhookUrl: o.webhookUrl ?? null,
      };
      merchants.set(m.publicKey, m);
      return { ...m };
    },

    setWebhookUrl(publicKey, url) {
      merchantOf(publicKey).webhookUrl = url;
    },

    session(sessionKey) {
      return structuredClone(stored(sessionKey));
    },

    sessionByOrder(publicKey, orderId) {
      for (const s of sessions.values()) if (s.publicKey === publicKey && s.orderId === orderId) return structuredClone(s);
      return undefined;
    },

    async pay(sessionKey, o = {}) {
      const s = stored(sessionKey);
      if (s.status !== 'active') throw new Error(`CryptoNow emulator: session ${sessionKey} is ${s.status}; use payLate for a closed session`);
      paySession(s);
      if (o.notify !== false) await notify(s, 'payment.success');
    },

    async payLate(sessionKey, o = {}) {
      const s = stored(sessionKey);
      if (s.status === 'paid') throw new Error(`CryptoNow emulator: session ${sessionKey} is already paid`);
      if (s.status === 'active') {
        closeSession(s);
        if (o.notify !== false) await notify(s, 'session.closed');
      }
      paySession(s);
      if (o.notify !== false) await notify(s, 'payment.success');
    },

    async close(sessionKey?: string, o: { notify?: boolean } = {}) {
      if (sessionKey === undefined) return shutDown();
      const s = stored(sessionKey);
      if (s.status !== 'active') throw new Error(`CryptoNow emulator: session ${sessionKey} is already ${s.status}`);
      closeSession(s);
      if (o.notify !== false) await notify(s, 'session.closed');
    },

    failNext(kind, count, mode) {
      for (let i = 0; i < count; i++) failures[kind].push(mode);
    },

    webhookBody(sessionKey, event) {
      return sessionWebhookBody(stored(sessionKey), event);
    },

    signedWebhook(sessionKey, event) {
      const s = stored(sessionKey);
      const raw = sessionWebhookBody(s, event);
      return { rawBody: Buffer.from(raw, 'utf8'), headers: { 'Content-Type': 'application/json', 'X-Signature': hmacHex(merchantOf(s.publicKey).privateKey, raw) } };
    },

    signedEvent(publicKey, event, data) {
      const raw = JSON.stringify({ event, data });
      return { rawBody: Buffer.from(raw, 'utf8'), headers: { 'Content-Type': 'application/json', 'X-Signature': hmacHex(merchantOf(publicKey).privateKey, raw) } };
    },

    sign(publicKey, payload) {
      return hmacHex(merchantOf(publicKey).privateKey, payload);
    },

    deliver,

    async idle() {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
  };
}
