/**
 * CryptoNow's signature construction — ASSUMED. The guide says requests are signed with the
 * merchant's private key (headers X-Public-Key, X-Signature) and webhooks carry an X-Signature
 * verified with the same key, but not what exactly is signed nor how. Until the real
 * documentation (cryptnow.io/docs#signature) has been checked, Coinbridge assumes:
 *
 *   X-Signature = lowercase hex HMAC-SHA256(key = private key, message = the exact request body
 *   bytes; for a request without a body, the request path including its query string, as sent
 *   on the wire, e.g. "/api/v1/sessions/abc")
 *
 * and the same over the raw webhook body. Nothing outside this file knows how a signature is
 * built: the adapter and the sandbox only call signRequest / verifyRequest / signWebhook /
 * verifyWebhook. To adopt the real construction, replace this file (keeping these exports; a
 * construction with a timestamp can use `now` and answer 'stale_signature') and update the pinned
 * vectors in test/gateways/cryptonow.conformance.test.ts ("signature construction") and the
 * emulator's own check in test/emulators/cryptonow/server.ts.
 */
import { hmacSha256, verifyHexHmac } from '../../crypto/signatures.ts';
import { SIGNATURE_HEADER, SIGNATURE_HEADER_RECEIVED } from './protocol.ts';

/** Said in rejections, so an operator sees what was checked (no key material). */
export const SIGNATURE_CONSTRUCTION = 'lowercase hex HMAC-SHA256 of the raw body keyed with the merchant\'s private key (Coinbridge\'s assumption; CryptoNow does not publish it)';

/** Lowercase hex HMAC-SHA256 of `payload` keyed with the private key. */
export function cryptoNowSignature(privateKey: string, payload: Buffer | string): string {
  return hmacSha256(privateKey, payload).toString('hex');
}

/** Constant-time check of a hex signature header (either case) against `payload`. */
export function verifyCryptoNowSignature(privateKey: string, payload: Buffer | string, header: string): boolean {
  return verifyHexHmac(typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload, privateKey, header);
}

/** One API request as it goes on the wire. */
export interface SignedRequest {
  method: string;
  /** Path and query exactly as sent ("/api/v1/sessions/abc?x=1"). */
  pathAndQuery: string;
  /** The exact body bytes; undefined or empty for a request without a body. */
  body: Buffer | string | undefined;
}

function requestPayload(req: SignedRequest): Buffer | string {
  return req.body !== undefined && req.body.length > 0 ? req.body : req.pathAndQuery;
}

/** The headers that sign one request (besides X-Public-Key, which is not part of the construction). */
export function signRequest(privateKey: string, req: SignedRequest, _now: number): Record<string, string> {
  return { [SIGNATURE_HEADER]: cryptoNowSignature(privateKey, requestPayload(req)) };
}

/** Whether a received request (headers lowercased, as Node gives them) is signed with `privateKey`. */
export function verifyRequest(privateKey: string, req: SignedRequest, headers: Record<string, string | string[] | undefined>, _now: number): boolean {
  const header = first(headers[SIGNATURE_HEADER_RECEIVED]);
  return header !== undefined && verifyCryptoNowSignature(privateKey, requestPayload(req), header);
}

/** The headers that sign one webhook body. */
export function signWebhook(privateKey: string, rawBody: Buffer | string, _now: number): Record<string, string> {
  return { [SIGNATURE_HEADER]: cryptoNowSignature(privateKey, rawBody) };
}

export type WebhookCheck =
  | { ok: true }
  | { ok: false; reason: 'missing_signature' | 'bad_signature' | 'stale_signature'; message: string };

/** Checks a webhook's signature on its raw bytes (headers lowercased, as Node gives them). */
export function verifyWebhook(privateKey: string, rawBody: Buffer, headers: Record<string, string | string[] | undefined>, _now: number): WebhookCheck {
  const header = first(headers[SIGNATURE_HEADER_RECEIVED]);
  if (!header) return { ok: false, reason: 'missing_signature', message: `missing ${SIGNATURE_HEADER} header` };
  if (!verifyCryptoNowSignature(privateKey, rawBody, header)) {
    return { ok: false, reason: 'bad_signature', message: `${SIGNATURE_HEADER} does not match the ${SIGNATURE_CONSTRUCTION}; check the connection's private key` };
  }
  return { ok: true };
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
