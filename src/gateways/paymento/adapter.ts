import type { GatewayFact } from '../../core/gateway-facts.ts';
import { formatAmount, parseDecimal } from '../../core/money.ts';
import { UpstreamError, UpstreamRefusal } from '../../errors.ts';
import { verifyHexHmac } from '../../crypto/signatures.ts';
import { callJson } from '../http-client.ts';
import type { CallbackVerdict, CreatedPayment, CreatePaymentInput, GatewayAdapter, GatewayConnection } from '../types.ts';
import {
  mapPaymentoStatus, paymentoStatusCode, SIGNATURE_HEADER,
  type PaymentoEnvelope, type PaymentoIpn, type PaymentoPaymentRequest, type PaymentoSettings, type PaymentoVerifyBody,
} from './protocol.ts';
import { isStorableText } from '../../http/validation.ts';

export interface PaymentoOrigins {
  /** API base, e.g. https://api.paymento.io (or the sandbox's /sandbox/paymento). */
  api: string;
  /** Hosted gateway page base, e.g. https://app.paymento.io. */
  gateway: string;
}

const HTTP_POST = 1;
/** Paymento tokens are opaque printable strings; anything else cannot be one of ours. */
const TOKEN = /^[\x21-\x7e]{1,200}$/;

/** Paymento, per reference/paymento/swagger.json and the integration guide. */
export class PaymentoAdapter implements GatewayAdapter {
  readonly name = 'paymento' as const;
  readonly capabilities = { reportsAmounts: true, topUp: true, configuresCallbackUrl: true, idempotentCreate: false };
  readonly #origins: (conn: GatewayConnection) => PaymentoOrigins;
  readonly #timeoutMs: number;

  constructor(origins: (conn: GatewayConnection) => PaymentoOrigins, opts: { timeoutMs?: number } = {}) {
    this.#origins = origins;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
  }

  async #call<T>(conn: GatewayConnection, method: 'GET' | 'POST', path: string, body?: unknown): Promise<PaymentoEnvelope<T>> {
    const upstream = conn.mode === 'sandbox' ? 'Paymento sandbox' : 'Paymento';
    let envelope: PaymentoEnvelope<T>;
    try {
      envelope = await callJson<PaymentoEnvelope<T>>({ method, url: `${this.#origins(conn).api}/v1${path}`, headers: { 'Api-Key': conn.credentials.apiKey }, body, upstream, timeoutMs: this.#timeoutMs });
    } catch (err) {
      throw explainRefusal(err, upstream, path);
    }
    if (typeof envelope !== 'object' || envelope === null || typeof envelope.success !== 'boolean') {
      throw new UpstreamError('upstream_bad_response', `Paymento answered ${path} without its {success, message, body} envelope`);
    }
    return envelope;
  }

  async createPayment(conn: GatewayConnection, input: CreatePaymentInput): Promise<CreatedPayment> {
    const request: PaymentoPaymentRequest = {
      fiatAmount: formatAmount(input.amount),
      fiatCurrency: input.amount.currency,
      returnUrl: input.returnUrl,
      orderId: input.orderId,
      riskSpeed: input.confirmationSpeed === 'fast' ? 0 : 1,
      ...(input.language ? { language: input.language } : {}),
      ...(input.customerEmail ? { emailAddress: input.customerEmail } : {}),
      additionalData: [{ key: 'CoinbridgePaymentId', value: input.paymentId }],
    };
    const res = await this.#call<string>(conn, 'POST', '/payment/request', request);
    if (!res.success || typeof res.body !== 'string' || res.body.length === 0) {
      throw new UpstreamRefusal('gateway_refused', `Paymento refused the payment request: ${res.message ?? 'no reason given'}`);
    }
    return { gatewayPaymentId: res.body, checkoutUrl: `${this.#origins(conn).gateway}/gateway?token=${encodeURIComponent(res.body)}` };
  }

  async getStatus(conn: GatewayConnection, token: string): Promise<GatewayFact> {
    const res = await this.#call<PaymentoVerifyBody | null>(conn, 'POST', '/payment/verify', { token });
    const body = res.body;
    if (!body || typeof body !== 'object') {
      // Without a body there is nothing to believe; a plain "not found" is final, anything else may pass.
      if (res.message && /not\s*found|invalid/i.test(res.message)) throw new UpstreamRefusal('gateway_unknown_payment', `Paymento does not know payment ${token}: ${res.message}`);
      throw new UpstreamError('upstream_bad_response', `Paymento verify returned no body: ${res.message ?? 'no message'}`);
    }
    const code = paymentoStatusCode(body.orderStatus);
    const reported = mapPaymentoStatus(code);
    if (reported === 'paid' && !res.success) {
      throw new UpstreamError('gateway_not_confirmed', `Paymento reports status ${String(body.orderStatus)} but verify did not succeed: ${res.message ?? 'no message'}`);
    }
    const orderId = body.orderId ?? body.additionalData?.find((d) => d.key === 'OrderId')?.value ?? undefined;
    const s = body.settlement ?? undefined;
    return {
      reported,
      gatewayStatus: code === undefined ? String(body.orderStatus) : String(code),
      verified: true,
      orderId: orderId ?? undefined,
      fiat: s?.requestedFiatAmount != null ? { amount: String(s.requestedFiatAmount), currency: s.fiatCurrency ?? undefined } : undefined,
      crypto: s ? { expected: parseDecimal(s.expectedCryptoAmount), received: parseDecimal(s.receivedCryptoAmount), coin: s.coin ?? undefined } : undefined,
      txHash: s?.pendingTxHash ?? undefined,
    };
  }

  parseCallback(conn: GatewayConnection, rawBody: Buffer, headers: Record<string, string | string[] | undefined>): CallbackVerdict {
    const header = headers[SIGNATURE_HEADER];
    const signature = Array.isArray(header) ? header[0] : header;
    if (!signature) return { ok: false, reason: 'missing_signature', message: `missing ${SIGNATURE_HEADER} header` };
    if (!verifyHexHmac(rawBody, conn.credentials.ipnSecret, signature)) {
      return { ok: false, reason: 'bad_signature', message: `${SIGNATURE_HEADER} does not match HMAC-SHA256 of the raw body with this connection's IPN secret` };
    }
    let ipn: PaymentoIpn;
    try {
      ipn = JSON.parse(rawBody.toString('utf8')) as PaymentoIpn;
    } catch {
      return { ok: false, reason: 'malformed_body', message: 'signed body is not JSON' };
    }
    if (typeof ipn !== 'object' || ipn === null || typeof ipn.Token !== 'string' || !TOKEN.test(ipn.Token)) {
      return { ok: false, reason: 'malformed_body', message: 'IPN body has no Token (1–200 visible ASCII characters)' };
    }
    const code = paymentoStatusCode(ipn.OrderStatus);
    if (code === undefined) return { ok: false, reason: 'malformed_body', message: 'IPN body has no OrderStatus' };
    return {
      ok: true,
      hint: {
        gatewayPaymentId: ipn.Token,
        dedupeKey: `${ipn.Token}:${code}`,
        reported: mapPaymentoStatus(code),
        gatewayStatus: String(code),
        orderId: typeof ipn.OrderId === 'string' && isStorableText(ipn.OrderId) ? ipn.OrderId : undefined,
      },
    };
  }

  async configureCallbacks(conn: GatewayConnection, callbackUrl: string): Promise<void> {
    const settings: PaymentoSettings = { IPN_Url: callbackUrl, IPN_Method: HTTP_POST };
    const res = await this.#call<PaymentoSettings>(conn, 'POST', '/payment/settings', settings);
    if (!res.success) throw new UpstreamRefusal('gateway_refused', `Paymento refused the IPN settings: ${res.message ?? 'no reason given'}`);
  }

  async getCallbackUrl(conn: GatewayConnection): Promise<string | undefined> {
    const res = await this.#call<PaymentoSettings>(conn, 'GET', '/payment/settings');
    return res.body?.ipN_URL ?? res.body?.IPN_Url ?? undefined;
  }

  async testConnection(conn: GatewayConnection): Promise<void> {
    const res = await this.#call<{ name?: string; isActive?: boolean }>(conn, 'GET', '/ping/merchant');
    if (!res.success || res.body?.isActive === false) {
      throw new UpstreamRefusal('gateway_credentials_rejected', `Paymento did not accept these credentials: ${res.message ?? 'merchant inactive'}`);
    }
  }

  async listCoins(conn: GatewayConnection): Promise<{ name: string; shortcut: string }[]> {
    const res = await this.#call<{ name: string | null; shortcut: string | null }[]>(conn, 'GET', '/payment/coins');
    return (res.body ?? []).map((c) => ({ name: c.name ?? '', shortcut: c.shortcut ?? '' }));
  }

  async listCurrencies(conn: GatewayConnection): Promise<{ id: number; title: string }[]> {
    const res = await this.#call<{ id: number; title: string | null }[]>(conn, 'GET', '/currencies');
    return (res.body ?? []).map((c) => ({ id: c.id, title: c.title ?? '' }));
  }

  mapStatus(code: string | number) {
    return mapPaymentoStatus(paymentoStatusCode(code));
  }
}

/** Gives a refused call Paymento's own words and a code that says which kind of refusal it was. */
function explainRefusal(err: unknown, upstream: string, path: string): unknown {
  if (!(err instanceof UpstreamRefusal)) return err;
  const details = err.details as { status?: number; body?: { message?: unknown } } | undefined;
  const message = typeof details?.body?.message === 'string' ? details.body.message : 'no reason given';
  if (details?.status === 401 || details?.status === 403) {
    return new UpstreamRefusal('gateway_credentials_rejected', `${upstream} rejected the API key (${details.status}: ${message}); check the connection's credentials`, details);
  }
  if (path === '/payment/verify' && (details?.status === 400 || details?.status === 404)) {
    return new UpstreamRefusal('gateway_unknown_payment', `${upstream} does not know this payment (${details.status}: ${message})`, details);
  }
  return new UpstreamRefusal(err.code, `${err.message}: ${message}`, details);
}
