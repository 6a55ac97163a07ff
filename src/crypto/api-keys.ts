import crypto from 'node:crypto';
import { sha256Hex } from './signatures.ts';

const PREFIX = 'cb_live_';

/** A new store API key: the key (shown once), the prefix kept for recognition, and its hash. */
export function generateApiKey(): { key: string; prefix: string; hash: string } {
  const key = PREFIX + crypto.randomBytes(24).toString('base64url');
  return { key, prefix: key.slice(0, PREFIX.length + 6), hash: hashApiKey(key) };
}

/** Keys are 192-bit random, so a fast hash is enough: there is nothing to brute-force. */
export function hashApiKey(key: string): string {
  return sha256Hex(key);
}

/** Unguessable public reference for pay pages (~131 bits). */
export function newPaymentRef(): string {
  return crypto.randomBytes(16).toString('base64url').replace(/[-_]/g, 'x').slice(0, 22);
}
