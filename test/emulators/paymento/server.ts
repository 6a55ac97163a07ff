/**
 * A Paymento emulator: a real HTTP server that speaks Paymento's published contract
 * (reference/paymento/swagger.json, docs.paymento.io, the integration guide), so adapter tests
 * exercise real sockets, real JSON and real HMAC signatures instead of mocks.
 *
 * It is deliberately strict where the contract is precise (envelope on every answer, Api-Key on
 * every /v1 call, string-typed fields, raw-body HMAC) and lenient where ASP.NET Core is (JSON
 * property names match case-insensitively, several JSON content types are accepted).
 *
 * Tests drive it through plain methods (setStatus, sendIpn, failVerify, ...), not over HTTP.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import { HangingRequests, listenOnLoopback, logged, type LoggedRequest, Sleepers } from '../loopback.ts';

export type VerifyShape = 'swagger' | 'docs';
export type VerifyFailure = '500' | 'timeout' | '503-retry-after';
/** `refuse`: Paymento answers 200 with success:false, as it does for a request it will not take. */
export type CreateFailure = '500' | '503' | 'refuse';

export interface AdditionalData {
  key: string | null;
  value: string | null;
}

export interface EmulatedPayment {
  token: string;
  paymentId: number;
  /** The merchant that created it: verify with another merchant's key is "not found". */
  apiKey: string;
  orderId: string | null;
  fiatAmount: string;
  fiatCurrency: string;
  returnUrl: string | null;
  riskSpeed: 0 | 1;
  additionalData: AdditionalData[];
  status: number;
  /** 8-decimal strings (BTC at a fixed fake rate). */
  expectedCrypto: string;
  receivedCrypto: string;
  txHash: string | null;
}

export interface IpnDelivery {
  token: string;
  status: number;
  attempt: number;
  method: 'POST' | 'PUT' | null;
  url: string | null;
  httpStatus?: number;
  error?: string;
  /** What we sent. */
  body: string;
  /** What the merchant answered. */
  responseBody?: string;
}

export type { LoggedRequest };

export interface PaymentoEmulator {
  /** API base: the adapter calls `${origin}/v1/...`. */
  readonly origin: string;
  /** Hosted page base: `${gatewayOrigin}/gateway?token=...`. */
  readonly gatewayOrigin: string;
  readonly requests: LoggedRequest[];
  readonly deliveries: IpnDelivery[];
  addMerchant(): { apiKey: string; secret: string };
  /** A copy of the stored payment (throws for an unknown token). */
  payment(token: string): EmulatedPayment;
  /** The IPN body Paymento would send for this payment, byte for byte. */
  ipnBody(token: string, status?: number): string;
  /** UPPERCASE hex HMAC-SHA256 of `raw` with the merchant's secret, as Paymento signs. */
  signBody(apiKey: string, raw: string): string;
  setStatus(token: string, status: number, opts?: { receivedCrypto?: string; txHash?: string; notify?: boolean }): Promise<void>;
  sendIpn(token: string, opts?: { status?: number; rawBody?: string; signature?: string | null }): Promise<{ httpStatus: number; body: string }>;
  failVerify(count: number, mode: VerifyFailure): void;
  /** The next `count` payment requests fail this way. */
  failCreate(count: number, mode: CreateFailure): void;
  /** Makes the gateway report other facts than it was asked for (to test Coinbridge's checks). */
  misreport(token: string, change: Partial<Pick<EmulatedPayment, 'fiatAmount' | 'orderId'>>): void;
  close(): Promise<void>;
}

/** Code → name as the newer docs spell them; 6 is in the swagger enum but undocumented. */
const STATUS_NAMES: Record<number, string> = {
  0: 'Initialize', 1: 'Pending', 2: 'PartialPaid', 3: 'WaitingToConfirm', 4: 'Timeout',
  5: 'UserCanceled', 7: 'Paid', 8: 'Approve', 9: 'Reject',
};

/** Fixed fake price: 1 BTC = 80,000 units of any fiat, so expected amounts are predictable. */
const BTC_PRICE = 80_000n;
const SATS = 100_000_000n;
const PRICES: Record<string, number> = { BTC: 80_000, ETH: 4_000, USDT: 1, LTC: 100 };
const PAYMENT_COINS = [
  { name: 'Bitcoin', shortcut: 'BTC' },
  { name: 'Ethereum', shortcut: 'ETH' },
  { name: 'Tether (TRC20)', shortcut: 'USDT' },
  { name: 'Litecoin', shortcut: 'LTC' },
];
const CURRENCIES = ['USD', 'EUR', 'GBP', 'CAD', 'AUD', 'CHF', 'JPY', 'TRY', 'AED'].map((title, i) => ({ id: i + 1, title }));
/** The content types the swagger lists for every JSON request body. */
const JSON_TYPES = new Set(['application/json', 'text/json', 'application/json-patch+json']);
const MAX_BODY = 1_000_000;
const HANG_MS = 30_000;

interface Reply {
  status: number;
  body: unknown;
  message?: string | null;
  success?: boolean;
  headers?: Record<string, string>;
}

/** Thrown inside a handler to answer with an error envelope. */
class HttpFail extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function ok(body: unknown, message: string | null = null): Reply {
  return { status: 200, success: true, message, body };
}
function refused(message: string, body: unknown = null): Reply {
  return { status: 200, success: false, message, body };
}

/** ASP.NET Core binds JSON properties case-insensitively, so "IPN_Url" fills "ipN_URL". */
function field(obj: Record<string, unknown>, name: string): unknown {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(obj)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** System.Text.Json refuses a number where the model has a string: a 400, not a coercion. */
function stringField(obj: Record<string, unknown>, name: string): string | null {
  const v = field(obj, name);
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new HttpFail(400, `The JSON value could not be converted to System.String. Path: $.${name}`);
  return v;
}

function additionalDataField(obj: Record<string, unknown>): AdditionalData[] {
  const v = field(obj, 'additionalData');
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new HttpFail(400, 'The JSON value could not be converted to AdditionalData[]. Path: $.additionalData');
  return v.map((item: unknown, i) => {
    if (typeof item !== 'object' || item === null) throw new HttpFail(400, `Path: $.additionalData[${i}] is not an object`);
    const rec = item as Record<string, unknown>;
    return { key: stringField(rec, 'key'), value: stringField(rec, 'value') };
  });
}

/** fiat / BTC_PRICE, rounded half-up to 8 decimals, never below 1 satoshi. */
function fiatToCrypto(fiat: string): string {
  const [whole = '0', frac = ''] = fiat.split('.');
  const den = 10n ** BigInt(frac.length) * BTC_PRICE;
  const sats = (BigInt(whole + frac) * SATS + den / 2n) / den;
  return satsToString(sats > 0n ? sats : 1n);
}

function satsToString(sats: bigint): string {
  const digits = sats.toString().padStart(9, '0');
  return `${digits.slice(0, -8)}.${digits.slice(-8)}`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function randomHex(bytes: number): string {
  return crypto.randomBytes(bytes).toString('hex');
}

export async function startPaymentoEmulator(opts: { verifyShape?: VerifyShape; ipnRetryDelaysMs?: number[] } = {}): Promise<PaymentoEmulator> {
  const verifyShape = opts.verifyShape ?? 'swagger';
  const retryDelays = opts.ipnRetryDelaysMs ?? [100, 300, 1000, 3000];

  const merchants = new Map<string, { secret: string; name: string; ipnUrl: string | null; ipnMethod: number }>();
  const payments = new Map<string, EmulatedPayment>();
  const requests: LoggedRequest[] = [];
  const deliveries: IpnDelivery[] = [];
  const verifyFailures: VerifyFailure[] = [];
  const createFailures: CreateFailure[] = [];
  let nextPaymentId = 1000;
  let closed = false;

  // Everything that could keep close() waiting is tracked so close() can cut it short.
  const hanging = new HangingRequests(HANG_MS);
  const sleepers = new Sleepers();
  const outbound = new AbortController();

  const sleep = (ms: number): Promise<void> => sleepers.sleep(ms);

  function stored(token: string): EmulatedPayment {
    const p = payments.get(token);
    if (!p) throw new Error(`Paymento emulator: no payment with token ${token}`);
    return p;
  }

  function merchantOf(apiKey: string) {
    const m = merchants.get(apiKey);
    if (!m) throw new Error(`Paymento emulator: unknown merchant ${apiKey}`);
    return m;
  }

  function sign(apiKey: string, raw: string): string {
    return crypto.createHmac('sha256', merchantOf(apiKey).secret).update(raw, 'utf8').digest('hex').toUpperCase();
  }

  function ipnBody(p: EmulatedPayment, status: number): string {
    // Key order and PascalCase as documented; compact JSON, so re-serialising changes the bytes.
    return JSON.stringify({ Token: p.token, PaymentId: p.paymentId, OrderId: p.orderId, OrderStatus: status, AdditionalData: p.additionalData });
  }

  /** One IPN attempt; never throws, the outcome goes to `deliveries`. */
  async function deliverOnce(p: EmulatedPayment, status: number, raw: string, signature: string | null, attempt: number): Promise<IpnDelivery> {
    const m = merchantOf(p.apiKey);
    const method = m.ipnMethod === 2 ? 'PUT' : 'POST';
    const entry: IpnDelivery = { token: p.token, status, attempt, method, url: m.ipnUrl, body: raw };
    if (!m.ipnUrl) {
      entry.error = 'no IPN URL configured for this merchant';
    } else {
      try {
        const res = await fetch(m.ipnUrl, {
          method,
          headers: { 'Content-Type': 'application/json', ...(signature === null ? {} : { 'X-HMAC-SHA256-SIGNATURE': signature }) },
          body: raw,
          signal: AbortSignal.any([AbortSignal.timeout(5_000), outbound.signal]),
          redirect: 'manual',
        });
        entry.httpStatus = res.status;
        entry.responseBody = await res.text();
      } catch (err) {
        entry.error = (err as Error).message;
      }
    }
    deliveries.push(entry);
    return entry;
  }

  /** Paymento retries non-200 answers and network errors, then gives up. */
  async function deliverWithRetries(p: EmulatedPayment): Promise<void> {
    const raw = ipnBody(p, p.status);
    const signature = sign(p.apiKey, raw);
    for (let attempt = 1; attempt <= retryDelays.length + 1 && !closed; attempt++) {
      const result = await deliverOnce(p, p.status, raw, signature, attempt);
      if (result.httpStatus === 200 || result.url === null) return;
      const delay = retryDelays[attempt - 1];
      if (delay === undefined) return;
      await sleep(delay);
    }
  }

  // ---- HTTP handlers ----

  function handlePaymentRequest(apiKey: string, body: Record<string, unknown>): Reply {
    const fiatAmount = stringField(body, 'fiatAmount');
    const fiatCurrency = stringField(body, 'fiatCurrency');
    const returnUrl = stringField(body, 'returnUrl');
    const orderId = stringField(body, 'orderId');
    stringField(body, 'language');
    stringField(body, 'emailAddress');
    const riskSpeed = field(body, 'riskSpeed') ?? 0;
    if (riskSpeed !== 0 && riskSpeed !== 1) throw new HttpFail(400, 'riskSpeed must be 0 (High) or 1 (Low). Path: $.riskSpeed');
    const cryptoAmounts = field(body, 'cryptoAmounts');
    if (cryptoAmounts !== undefined && cryptoAmounts !== null && !Array.isArray(cryptoAmounts)) throw new HttpFail(400, 'Path: $.cryptoAmounts must be an array');
    const additionalData = additionalDataField(body);

    if (!fiatAmount || !fiatCurrency) return refused('fiatAmount and fiatCurrency are required');
    if (!/^\d{1,12}(\.\d{1,8})?$/.test(fiatAmount) || !/[1-9]/.test(fiatAmount)) return refused(`fiatAmount "${fiatAmount}" is not a positive decimal amount`);
    if (!CURRENCIES.some((c) => c.title === fiatCurrency.toUpperCase())) return refused(`Currency ${fiatCurrency} is not supported`);

    const token = randomHex(16);
    payments.set(token, {
      token, paymentId: nextPaymentId++, apiKey, orderId, fiatAmount, fiatCurrency: fiatCurrency.toUpperCase(), returnUrl,
      riskSpeed, additionalData, status: 0, expectedCrypto: fiatToCrypto(fiatAmount), receivedCrypto: '0', txHash: null,
    });
    return ok(token);
  }

  function verifyBody(p: EmulatedPayment): Reply {
    if (verifyShape === 'swagger') {
      // The swagger's VerifyResponse: integer status, no amounts, success whenever the token is known.
      return ok({ token: p.token, orderId: p.orderId, orderStatus: p.status, additionalData: p.additionalData });
    }
    // docs.paymento.io: verifying a Paid order approves it; success only means "now in Approve".
    if (p.status === 7) p.status = 8;
    const name = STATUS_NAMES[p.status] ?? String(p.status);
    const body = {
      token: p.token,
      orderId: p.orderId,
      orderStatus: name,
      additionalData: [...p.additionalData, { key: 'OrderId', value: p.orderId }],
      settlement: {
        expectedCryptoAmount: p.expectedCrypto,
        requestedFiatAmount: p.fiatAmount,
        receivedCryptoAmount: p.receivedCrypto,
        pendingTxHash: p.txHash,
      },
    };
    return p.status === 8 ? ok(body) : refused(`Order status is ${name}, not Approve`, body);
  }

  function handleSettings(apiKey: string, body: Record<string, unknown> | undefined): Reply {
    const m = merchantOf(apiKey);
    if (body) {
      // Case-insensitive binding makes the docs' {IPN_Url, IPN_Method} and the swagger's {ipN_URL, ipN_Method} the same fields.
      const url = stringField(body, 'ipN_URL');
      const method = field(body, 'ipN_Method') ?? 1;
      if (method !== 1 && method !== 2) return refused('IPN_Method must be 1 (HttpPost) or 2 (HttpPut)');
      if (!url) return refused('IPN_Url is required');
      let parsed: URL;
      try { parsed = new URL(url); } catch { return refused(`IPN_Url "${url}" is not an absolute URL`); }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return refused('IPN_Url must be http(s)');
      m.ipnUrl = url;
      m.ipnMethod = method;
    }
    return ok({ ipN_URL: m.ipnUrl, ipN_Method: m.ipnUrl ? m.ipnMethod : 0 });
  }

  function gatewayPage(token: string | null, res: http.ServerResponse): void {
    const p = token ? payments.get(token) : undefined;
    res.writeHead(p ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' });
    res.end(p
      ? `<!doctype html><title>Paymento</title><h1>Pay ${escapeHtml(p.expectedCrypto)} BTC</h1><p>Order ${escapeHtml(p.orderId ?? '')}: ${escapeHtml(p.fiatAmount)} ${escapeHtml(p.fiatCurrency)}</p>`
      : '<!doctype html><title>Paymento</title><h1>Payment not found</h1>');
  }

  function sendEnvelope(res: http.ServerResponse, reply: Reply): void {
    const envelope = { success: reply.success ?? reply.status < 400, message: reply.message ?? null, body: reply.body };
    res.writeHead(reply.status, { 'content-type': 'application/json; charset=utf-8', ...reply.headers });
    res.end(JSON.stringify(envelope));
  }

  function fail(status: number, message: string): Reply {
    return { status, success: false, message, body: null };
  }

  async function readBody(req: http.IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY) throw new HttpFail(413, 'request body too large');
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  async function route(req: http.IncomingMessage, res: http.ServerResponse, url: URL, rawBody: string): Promise<Reply | 'hang' | 'done'> {
    const path = url.pathname.replace(/\/+$/, '').toLowerCase(); // ASP.NET routing ignores case
    const method = req.method ?? 'GET';
    if (method === 'GET' && path === '/gateway') {
      gatewayPage(url.searchParams.get('token'), res);
      return 'done';
    }
    if (!path.startsWith('/v1/')) return fail(404, `No route for ${method} ${url.pathname}`);

    // Node lowercases header names, so "Api-Key", "api-key" and "API-KEY" all arrive as api-key.
    const apiKey = req.headers['api-key'];
    const key = Array.isArray(apiKey) ? apiKey[0] : apiKey;
    if (!key || !merchants.has(key)) return fail(401, key ? 'Invalid Api-Key' : 'Api-Key header is required');
    const merchant = merchantOf(key);

    const json = async (): Promise<Record<string, unknown>> => {
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (!JSON_TYPES.has(type) && !/^application\/[\w.+-]*\+json$/.test(type)) throw new HttpFail(415, `Unsupported content type "${type}"`);
      if (rawBody.length === 0) throw new HttpFail(400, 'A non-empty request body is required.');
      let parsed: unknown;
      try { parsed = JSON.parse(rawBody); } catch { throw new HttpFail(400, 'The request body is not valid JSON.'); }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new HttpFail(400, 'The request body must be a JSON object.');
      return parsed as Record<string, unknown>;
    };

    switch (`${method} ${path}`) {
      case 'POST /v1/payment/request': {
        const body = await json();
        const failure = createFailures.shift();
        if (failure === '500') return fail(500, 'An unexpected error occurred.');
        if (failure === '503') return fail(503, 'Service temporarily unavailable');
        if (failure === 'refuse') return fail(200, 'Merchant wallet is not configured');
        return handlePaymentRequest(key, body);
      }
      case 'POST /v1/payment/verify': {
        const body = await json();
        const failure = verifyFailures.shift();
        if (failure === '500') return fail(500, 'An unexpected error occurred.');
        if (failure === '503-retry-after') return { ...fail(503, 'Service temporarily unavailable'), headers: { 'retry-after': '1' } };
        if (failure === 'timeout') return 'hang';
        const token = stringField(body, 'token');
        const p = token ? payments.get(token) : undefined;
        // Another merchant's token is indistinguishable from an unknown one.
        if (!p || p.apiKey !== key) return fail(400, 'Payment not found');
        return verifyBody(p);
      }
      case 'POST /v1/payment/settings':
        return handleSettings(key, await json());
      case 'GET /v1/payment/settings':
        return handleSettings(key, undefined);
      case 'GET /v1/payment/coins':
        return ok(PAYMENT_COINS);
      case 'GET /v1/coins':
        return ok(PAYMENT_COINS.map((c, i) => ({ ...c, contractAddress: null, chainId: i + 1, network: c.shortcut === 'USDT' ? 'TRON' : c.name, isTest: false })));
      case 'GET /v1/currencies':
        return ok(CURRENCIES);
      case 'GET /v1/languages':
        return ok([{ name: 'English', displayName: 'English', culture: 'en-US' }, { name: 'Turkish', displayName: 'Türkçe', culture: 'tr-TR' }]);
      case 'GET /v1/info':
        return ok({ version: '1' });
      case 'GET /v1/ping':
        return ok(null, 'pong');
      case 'GET /v1/ping/merchant':
        return ok({ name: merchant.name, isActive: true });
      case 'POST /v1/coins/price': {
        const body = await json();
        const names = field(body, 'coinNames');
        const currency = stringField(body, 'currency') ?? 'USD';
        const wanted = Array.isArray(names) && names.length > 0 ? names.map((n) => String(n).toUpperCase()) : Object.keys(PRICES);
        return ok(PAYMENT_COINS.filter((c) => wanted.includes(c.shortcut)).map((c, i) => ({
          id: i + 1, name: c.name, shortcut: c.shortcut, price: PRICES[c.shortcut], currency, change24H: field(body, 'include24HrChange') === true ? 0 : null,
        })));
      }
      default:
        return fail(404, `No route for ${method} ${url.pathname}`);
    }
  }

  const server = http.createServer(async (req, res) => {
    let rawBody = '';
    const url = new URL(req.url ?? '/', 'http://emulator');
    try {
      rawBody = await readBody(req);
      requests.push(logged(req, url, rawBody));

      const reply = await route(req, res, url, rawBody);
      if (reply === 'done') return;
      if (reply === 'hang') {
        hanging.hold(req);
        return;
      }
      sendEnvelope(res, reply);
    } catch (err) {
      if (err instanceof HttpFail) sendEnvelope(res, fail(err.status, err.message));
      else sendEnvelope(res, fail(500, `emulator error: ${(err as Error).message}`));
    }
  });
  const { origin, destroySockets } = await listenOnLoopback(server);

  return {
    origin,
    gatewayOrigin: origin,
    requests,
    deliveries,

    addMerchant() {
      const apiKey = randomHex(20).toUpperCase();
      const secret = randomHex(32).toUpperCase();
      merchants.set(apiKey, { secret, name: `Emulated merchant ${merchants.size + 1}`, ipnUrl: null, ipnMethod: 1 });
      return { apiKey, secret };
    },

    payment(token) {
      return structuredClone(stored(token));
    },

    misreport(token, change) {
      Object.assign(stored(token), change);
    },

    ipnBody(token, status) {
      const p = stored(token);
      return ipnBody(p, status ?? p.status);
    },

    signBody(apiKey, raw) {
      return sign(apiKey, raw);
    },

    async setStatus(token, status, o = {}) {
      if (!Number.isInteger(status) || status < 0 || status > 9) throw new Error(`Paymento emulator: status ${status} is not 0..9`);
      const p = stored(token);
      p.status = status;
      if (o.receivedCrypto !== undefined) p.receivedCrypto = o.receivedCrypto;
      // A confirming or paid order without an explicit amount has received exactly what was asked.
      else if ((status === 3 || status === 7 || status === 8) && p.receivedCrypto === '0') p.receivedCrypto = p.expectedCrypto;
      if (o.txHash !== undefined) p.txHash = o.txHash;
      else if (status === 3 && p.txHash === null) p.txHash = randomHex(32);
      if (o.notify !== false) await deliverWithRetries(p);
    },

    async sendIpn(token, o = {}) {
      const p = stored(token);
      const status = o.status ?? p.status;
      const raw = o.rawBody ?? ipnBody(p, status);
      const signature = o.signature === undefined ? sign(p.apiKey, raw) : o.signature;
      const result = await deliverOnce(p, status, raw, signature, 1);
      if (result.httpStatus === undefined) throw new Error(`Paymento emulator: IPN delivery failed: ${result.error}`);
      return { httpStatus: result.httpStatus, body: result.responseBody ?? '' };
    },

    failCreate(count, mode) {
      for (let i = 0; i < count; i++) createFailures.push(mode);
    },

    failVerify(count, mode) {
      for (let i = 0; i < count; i++) verifyFailures.push(mode);
    },

    async close() {
      if (closed) return;
      closed = true;
      outbound.abort();
      sleepers.wakeAll();
      hanging.close();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      destroySockets();
      await done;
    },
  };
}
