import type { Dispatcher } from 'undici';
import { UpstreamError, UpstreamRefusal } from '../errors.ts';
import { guardedLookup } from '../net/url-guard.ts';

export interface JsonCall {
  method: 'GET' | 'POST' | 'PUT';
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  /** Already-serialised JSON, sent byte for byte (for gateways that sign the exact request body). */
  rawBody?: string;
  timeoutMs?: number;
  /** Names the upstream in error messages ("Paymento"). */
  upstream: string;
  /** Carries the call instead of the global fetch (see MerchantHosts). */
  via?: MerchantHosts | undefined;
}

/** undici is loaded on first use: only calls to merchant-named hosts need it, and loading it costs start-up time. */
let undici: Promise<typeof import('undici')> | undefined;

/**
 * Calls to hosts a merchant named (a self-hosted gateway instance): every connection's address is
 * judged at connect time, so a name that passed the save-time check and now resolves inside
 * (DNS rebinding) is refused before a byte is sent.
 */
export class MerchantHosts {
  readonly #allowPrivate: boolean;
  #agent: Dispatcher | undefined;

  constructor(opts: { allowPrivate: boolean }) {
    this.#allowPrivate = opts.allowPrivate;
  }

  async fetch(url: string, init: RequestInit): Promise<Response> {
    const { Agent, fetch } = await (undici ??= import('undici'));
    this.#agent ??= new Agent({ connect: { lookup: guardedLookup(this.#allowPrivate) } });
    return (await fetch(url, { ...(init as object), dispatcher: this.#agent })) as unknown as Response;
  }
}

/** Seconds or an HTTP date, as Retry-After allows. */
export function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/**
 * One outbound JSON call with a deadline. Network failures, timeouts, 429 and 5xx become
 * retryable UpstreamErrors (with Retry-After); other 4xx are final refusals.
 */
export async function callJson<T>(call: JsonCall): Promise<T> {
  let res: Response;
  try {
    const init: RequestInit = {
      method: call.method,
      headers: { accept: 'application/json', ...(call.body === undefined && call.rawBody === undefined ? {} : { 'content-type': 'application/json' }), ...call.headers },
      body: call.rawBody ?? (call.body === undefined ? undefined : JSON.stringify(call.body)),
      signal: AbortSignal.timeout(call.timeoutMs ?? 10_000),
      redirect: 'error',
    };
    res = call.via ? await call.via.fetch(call.url, init) : await fetch(call.url, init);
  } catch (err) {
    const timedOut = (err as Error).name === 'TimeoutError';
    throw new UpstreamError(timedOut ? 'upstream_timeout' : 'upstream_unreachable',
      `${call.upstream} ${timedOut ? 'did not answer in time' : 'could not be reached'} (${call.method} ${new URL(call.url).pathname})`, { cause: err });
  }
  const text = await res.text();
  if (res.status === 429 || res.status >= 500) {
    const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
    throw new UpstreamError('upstream_unavailable', `${call.upstream} answered ${res.status} to ${call.method} ${new URL(call.url).pathname}`,
      { details: { status: res.status }, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
  }
  let parsed: unknown;
  try {
    parsed = text.length ? JSON.parse(text) : undefined;
  } catch {
    throw new UpstreamError('upstream_bad_response', `${call.upstream} answered ${res.status} with a body that is not JSON`);
  }
  if (res.status >= 400) {
    throw new UpstreamRefusal('upstream_refused', `${call.upstream} refused ${call.method} ${new URL(call.url).pathname} with ${res.status}`, { status: res.status, body: parsed });
  }
  return parsed as T;
}
