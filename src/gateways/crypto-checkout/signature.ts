import { hmacSha256, timingSafeEqualBytes } from '../../crypto/signatures.ts';
import { SIGNATURE_TOLERANCE_SECONDS } from './protocol.ts';

/**
 * Crypto Checkout's webhook signature (docs.mycryptoserver.com, "Signature verification"):
 * `X-Webhook-Signature: t=<unix seconds>,v1=<hex>` where hex = HMAC-SHA256 of `"{t}.{rawBody}"`
 * keyed with the endpoint's secret. During a secret rotation several `v1` are sent; any one that
 * matches is enough. Pure: the caller supplies the clock.
 */

export type SignatureReason = 'ok' | 'missing' | 'malformed_header' | 'no_match' | 'stale';

export interface SignatureCheck {
  ok: boolean;
  reason: SignatureReason;
  /** What was wrong, for the merchant (never contains the secret or the expected digest). */
  message: string;
  /** The signed `t` (unix seconds), once the header could be read. */
  timestamp?: number;
}

export interface ParsedSignatureHeader {
  /** `t` exactly as written: it is part of the signed string. */
  t: string;
  /** Every well-formed `v1` (64 hex digits). */
  v1: string[];
}

const MAX_HEADER_LENGTH = 4096;
const MAX_PARTS = 32;
const HEX_DIGEST = /^[0-9a-fA-F]{64}$/;
const UNIX_SECONDS = /^\d{1,12}$/;

/** Reads `t=…,v1=…[,v1=…]`; `fallbackTimestamp` is X-Webhook-Timestamp, used only when `t=` is absent (as the official SDK does). */
export function parseSignatureHeader(header: string, fallbackTimestamp?: string): { ok: true; value: ParsedSignatureHeader } | { ok: false; message: string } {
  if (header.length > MAX_HEADER_LENGTH) return { ok: false, message: `X-Webhook-Signature is longer than ${MAX_HEADER_LENGTH} characters` };
  const parts = header.split(',').map((p) => p.trim()).filter((p) => p.length > 0);
  if (parts.length > MAX_PARTS) return { ok: false, message: `X-Webhook-Signature has more than ${MAX_PARTS} parts` };
  const ts: string[] = [];
  const v1: string[] = [];
  let v1Seen = 0;
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq <= 0) return { ok: false, message: 'X-Webhook-Signature is not a list of key=value pairs (expected t=<unix seconds>,v1=<hex>)' };
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') ts.push(value);
    else if (key === 'v1') {
      v1Seen += 1;
      if (HEX_DIGEST.test(value)) v1.push(value);
    }
    // Other schemes (v0, …) are not Crypto Checkout's and are ignored, as Stripe-style verifiers do.
  }
  if (ts.length > 1) return { ok: false, message: 'X-Webhook-Signature carries more than one t=' };
  const t = ts.length > 0 ? ts[0] : fallbackTimestamp?.trim();
  if (t === undefined) return { ok: false, message: 'X-Webhook-Signature has no t=<unix seconds> (and no X-Webhook-Timestamp header)' };
  if (!UNIX_SECONDS.test(t)) return { ok: false, message: 'the signature timestamp t= is not a whole number of seconds' };
  if (v1Seen === 0) return { ok: false, message: 'X-Webhook-Signature has no v1=<hex> signature' };
  if (v1.length === 0) return { ok: false, message: 'no v1= in X-Webhook-Signature is a 64-digit hex HMAC-SHA256' };
  return { ok: true, value: { t, v1 } };
}

/** Hex HMAC-SHA256 of `"{t}.{rawBody}"`, over the raw bytes. */
function digest(secret: string, t: string, rawBody: Buffer | string): Buffer {
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody;
  return hmacSha256(secret, Buffer.concat([Buffer.from(`${t}.`, 'utf8'), body]));
}

/**
 * Checks the signature first and the timestamp second, so a forged header is `no_match` whatever
 * its `t`, and only a genuine-but-old (or future) one is `stale`.
 */
export function verifyWebhookSignature(input: {
  rawBody: Buffer | string;
  header: string | undefined;
  secret: string;
  /** Milliseconds since the epoch, as Date.now(). */
  now: number;
  /** The X-Webhook-Timestamp header, if any. */
  timestampHeader?: string | undefined;
  toleranceSeconds?: number;
}): SignatureCheck {
  const header = input.header?.trim();
  if (!header) return { ok: false, reason: 'missing', message: 'missing X-Webhook-Signature header' };
  const parsed = parseSignatureHeader(header, input.timestampHeader);
  if (!parsed.ok) return { ok: false, reason: 'malformed_header', message: parsed.message };
  const { t, v1 } = parsed.value;
  const timestamp = Number(t);
  if (!input.secret) return { ok: false, reason: 'no_match', message: 'this connection has no webhook secret to check X-Webhook-Signature with', timestamp };
  const expected = digest(input.secret, t, input.rawBody);
  let matched = false;
  for (const candidate of v1) {
    // Every candidate is compared, so the time taken does not say which one matched.
    if (timingSafeEqualBytes(Buffer.from(candidate, 'hex'), expected)) matched = true;
  }
  if (!matched) {
    return { ok: false, reason: 'no_match', message: `no v1 signature in X-Webhook-Signature matches HMAC-SHA256 of "t.rawBody" with this connection's webhook secret (${v1.length} checked)`, timestamp };
  }
  const tolerance = input.toleranceSeconds ?? SIGNATURE_TOLERANCE_SECONDS;
  const skew = Math.floor(input.now / 1000) - timestamp;
  if (Math.abs(skew) > tolerance) {
    return { ok: false, reason: 'stale', message: `signature timestamp is ${Math.abs(skew)} s ${skew > 0 ? 'old' : 'in the future'}, beyond the ${tolerance} s tolerance (a replay, or a wrong clock)`, timestamp };
  }
  return { ok: true, reason: 'ok', message: 'signature verified', timestamp };
}

/**
 * The X-Webhook-Signature value Crypto Checkout sends at unix time `t`: one `v1` per active
 * secret (several during a rotation), for the emulator and the sandbox.
 */
export function signWebhook(secret: string | readonly string[], t: number, rawBody: Buffer | string): string {
  const secrets = typeof secret === 'string' ? [secret] : secret;
  const ts = String(Math.floor(t));
  return [`t=${ts}`, ...secrets.map((s) => `v1=${digest(s, ts, rawBody).toString('hex')}`)].join(',');
}
