import jwt from 'jsonwebtoken';
import type { SecretBox } from '../../crypto/secret-box.ts';
import type { Queryable } from '../../db/database.ts';
import { InputError } from '../../errors.ts';
import { findShopifyApp, type ShopifyApp } from './apps.ts';
import { SHOP_DOMAIN } from './clients.ts';

/** Shopify's session tokens live a minute and allow 10 s of clock skew (reference/platforms.md). */
const CLOCK_TOLERANCE_S = 10;

export interface VerifiedSessionToken {
  app: ShopifyApp;
  shop: string;
  /** The staff member (admin) or customer (checkout extension) the token speaks for, if any. */
  subject: string | undefined;
  raw: string;
}

export type SessionTokenCheck = { ok: true; value: VerifiedSessionToken } | { ok: false; reason: string };

/**
 * Verifies an App Bridge or checkout-extension session token: HS256 only (an `alg: none` or RS256
 * token is refused before any key is used), signed with the secret of the app named in `aud`
 * (or its previous secret during a rotation's grace hour), inside its `exp`/`nbf` window, and
 * destined (`dest`) for a valid shop domain.
 */
export async function checkSessionToken(q: Queryable, box: SecretBox, token: string, now: Date = new Date()): Promise<SessionTokenCheck> {
  const decoded = jwt.decode(token, { complete: true });
  if (!decoded || typeof decoded.payload !== 'object') return { ok: false, reason: 'the token is not a JWT' };
  if (decoded.header.alg !== 'HS256') return { ok: false, reason: `algorithm ${String(decoded.header.alg)} is not accepted (HS256 only)` };
  const aud = decoded.payload.aud;
  if (typeof aud !== 'string' || aud === '') return { ok: false, reason: 'the token names no app (aud)' };
  const app = await findShopifyApp(q, box, aud);
  if (!app) return { ok: false, reason: 'the token is for an app this Coinbridge does not know' };

  const secrets = [app.secret];
  if (app.previousSecret && app.previousSecretUntil && app.previousSecretUntil > now) secrets.push(app.previousSecret);
  let payload: jwt.JwtPayload | undefined;
  let failure = 'invalid signature';
  for (const secret of secrets) {
    try {
      const verified = jwt.verify(token, secret, {
        algorithms: ['HS256'], audience: app.clientId, clockTolerance: CLOCK_TOLERANCE_S, clockTimestamp: Math.floor(now.getTime() / 1000),
      });
      if (typeof verified === 'object') payload = verified;
      break;
    } catch (err) {
      failure = (err as Error).message;
      if (failure !== 'invalid signature') break; // only a signature failure is worth the other secret
    }
  }
  if (!payload) return { ok: false, reason: failure };
  if (typeof payload.exp !== 'number') return { ok: false, reason: 'the token has no expiry (exp)' };
  const shop = shopOfDest(payload.dest);
  if (!shop) return { ok: false, reason: 'the token is not destined for a valid shop (dest)' };
  // Admin tokens are issued by `https://{shop}/admin`, the shop they are destined for; checkout
  // extension tokens carry no issuer. An issuer naming another shop is not a token Shopify makes.
  if (payload.iss !== undefined && issuerShop(payload.iss) !== shop) return { ok: false, reason: 'the token was issued by another shop than its destination (iss ≠ dest)' };
  return { ok: true, value: { app, shop, subject: typeof payload.sub === 'string' ? payload.sub : undefined, raw: token } };
}

/** Admin tokens carry `https://{shop}`; checkout-extension tokens may carry the bare domain. */
function shopOfDest(dest: unknown): string | undefined {
  if (typeof dest !== 'string') return undefined;
  const host = dest.startsWith('https://') ? dest.slice('https://'.length) : dest;
  return SHOP_DOMAIN.test(host) && !host.includes('/') ? host.toLowerCase() : undefined;
}

/** Admin tokens' issuer is the shop's admin, `https://{shop}/admin`: its shop, judged as `dest` is. */
function issuerShop(iss: unknown): string | undefined {
  const origin = typeof iss === 'string' ? /^(https:\/\/[^/]+)\/admin\/?$/.exec(iss)?.[1] : undefined;
  return origin ? shopOfDest(origin) : undefined;
}

/** The bearer token of a request, or an InputError that says how to send one. */
export function bearerToken(header: string | undefined): string {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  if (!match) throw new InputError('missing_session_token', 'Send the Shopify session token as "Authorization: Bearer <token>".', 401);
  return match[1]!;
}

export function refusedSessionToken(reason: string): InputError {
  return new InputError('invalid_session_token', `The Shopify session token was refused: ${reason}. Reload the app from the Shopify admin.`, 401);
}
