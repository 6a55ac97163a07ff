import crypto from 'node:crypto';

export function hmacSha256(secret: string | Buffer, data: string | Buffer): Buffer {
  return crypto.createHmac('sha256', secret).update(data).digest();
}

/** Constant-time equality of two byte strings of possibly different lengths. */
export function timingSafeEqualBytes(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) {
    // Still spend the comparison so length mismatches cost the same as content mismatches.
    crypto.timingSafeEqual(a, a);
    return false;
  }
  return crypto.timingSafeEqual(a, b);
}

/** Verifies a hex HMAC-SHA256 header against raw bytes, ignoring the hex digits' case. */
export function verifyHexHmac(rawBody: Buffer, secret: string, header: string): boolean {
  const expected = hmacSha256(secret, rawBody);
  const trimmed = header.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(trimmed)) return false;
  return timingSafeEqualBytes(Buffer.from(trimmed, 'hex'), expected);
}

/** Verifies a base64 HMAC-SHA256 header (WooCommerce's X-WC-Webhook-Signature) against raw bytes. */
export function verifyBase64Hmac(rawBody: Buffer, secret: string, header: string): boolean {
  const trimmed = header.trim();
  if (!/^[A-Za-z0-9+/]{43}=$/.test(trimmed)) return false;
  return timingSafeEqualBytes(Buffer.from(trimmed, 'base64'), hmacSha256(secret, rawBody));
}

export function sha256Hex(data: string | Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}
