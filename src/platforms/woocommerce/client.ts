import http from 'node:http';
import https from 'node:https';
import WooCommerceRestApiPkg from '@woocommerce/woocommerce-rest-api';
import { UpstreamError, UpstreamRefusal } from '../../errors.ts';
import { guardedLookup } from '../../net/url-guard.ts';

// The package is CommonJS with `exports.default`; under Node's ESM loader the class sits one level down.
const WooCommerceRestApi = WooCommerceRestApiPkg.default;

export interface WooCredentials { storeUrl: string; consumerKey: string; consumerSecret: string }

export interface WooOrder {
  id: number;
  order_key: string;
  number: string;
  status: string;
  currency: string;
  total: string;
  payment_method: string;
  transaction_id: string;
  date_paid: string | null;
  /** UTC without a zone suffix, as WooCommerce writes it. */
  date_created_gmt?: string;
  billing?: { email?: string };
}

/**
 * WooCommerce REST v3 through `@woocommerce/woocommerce-rest-api` (OAuth 1.0a over http, basic
 * auth over https — the library decides). Redirects are not followed and every connection is
 * checked against the SSRF guard at connect time; answers become Coinbridge errors a job can act
 * on: 429/5xx/network retry later (honouring Retry-After), other refusals are final.
 */
export class WooClient {
  readonly #api: InstanceType<typeof WooCommerceRestApiPkg.default>;
  readonly #storeUrl: string;

  constructor(creds: WooCredentials, opts: { allowPrivate: boolean; timeoutMs: number }) {
    const agents = agentsFor(opts.allowPrivate);
    this.#storeUrl = creds.storeUrl;
    this.#api = new WooCommerceRestApi({
      url: creds.storeUrl, consumerKey: creds.consumerKey, consumerSecret: creds.consumerSecret, version: 'wc/v3', timeout: opts.timeoutMs,
      axiosConfig: {
        maxRedirects: 0, proxy: false, httpAgent: agents.http, httpsAgent: agents.https,
        validateStatus: (s: number) => s >= 200 && s < 300,
      },
    });
  }

  async get<T>(endpoint: string, params: Record<string, unknown> = {}): Promise<{ data: T; headers: Record<string, string> }> {
    return this.#call(() => this.#api.get(endpoint, params), `GET ${endpoint}`);
  }

  async put<T>(endpoint: string, body: Record<string, unknown>): Promise<{ data: T }> {
    return this.#call(() => this.#api.put(endpoint, body), `PUT ${endpoint}`);
  }

  async post<T>(endpoint: string, body: Record<string, unknown>): Promise<{ data: T }> {
    return this.#call(() => this.#api.post(endpoint, body), `POST ${endpoint}`);
  }

  async #call<T>(fn: () => Promise<{ data: T; headers: unknown }>, what: string): Promise<{ data: T; headers: Record<string, string> }> {
    try {
      const res = await fn();
      return { data: res.data, headers: (res.headers ?? {}) as Record<string, string> };
    } catch (err) {
      throw this.#translate(err, what);
    }
  }

  #translate(err: unknown, what: string): Error {
    const e = err as { response?: { status: number; headers?: Record<string, string>; data?: { code?: string; message?: string } }; code?: string; message?: string };
    const res = e.response;
    if (!res) return new UpstreamError('woocommerce_unreachable', `${this.#storeUrl} could not be reached (${what}): ${e.code ?? e.message}`);
    const message = typeof res.data?.message === 'string' ? res.data.message.slice(0, 300) : `HTTP ${res.status}`;
    if (res.status === 429 || res.status >= 500) {
      const retryAfterS = Number(res.headers?.['retry-after']);
      return new UpstreamError('woocommerce_unavailable', `${this.#storeUrl} answered ${res.status} to ${what}: ${message}`,
        Number.isFinite(retryAfterS) && retryAfterS >= 0 ? { retryAfterMs: retryAfterS * 1000 } : {});
    }
    if (res.status >= 300 && res.status < 400) return new UpstreamRefusal('woocommerce_redirect', `${this.#storeUrl} redirected ${what}; redirects are not followed. Check the store URL.`);
    const code = res.status === 401 || res.status === 403 ? 'woocommerce_unauthorized' : res.status === 404 ? 'woocommerce_not_found' : 'woocommerce_refused';
    return new UpstreamRefusal(code, `${this.#storeUrl} refused ${what} (${res.status} ${res.data?.code ?? ''}): ${message}`);
  }
}

/**
 * One pair of keep-alive agents per SSRF policy, shared by every client: a client is made per
 * write-back, and agents of its own would open a connection to the store each time and leave it
 * idle behind. The guard runs at every connect either way.
 */
const AGENTS = new Map<boolean, { http: http.Agent; https: https.Agent }>();

function agentsFor(allowPrivate: boolean): { http: http.Agent; https: https.Agent } {
  let agents = AGENTS.get(allowPrivate);
  if (!agents) {
    const lookup = guardedLookup(allowPrivate);
    agents = { http: new http.Agent({ lookup, keepAlive: true }), https: new https.Agent({ lookup, keepAlive: true }) };
    AGENTS.set(allowPrivate, agents);
  }
  return agents;
}
