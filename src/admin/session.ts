import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import type Koa from 'koa';
import type { StaffRole } from './access.ts';

export const SESSION_COOKIE = 'cb_session';
export const CSRF_COOKIE = 'cb_csrf';
export const CSRF_HEADER = 'x-csrf-token';
export const SESSION_AUDIENCE = 'coinbridge-admin';
/** A session lives half an hour, and is renewed on use once less than a quarter hour is left. */
export const SESSION_TTL_S = 30 * 60;
export const RENEW_BELOW_S = 15 * 60;
const CLOCK_TOLERANCE_S = 5;

export interface SessionClaims {
  /** staff_users.id, or `shopify:{shop}`. */
  sub: string;
  role: StaffRole;
  via: 'password' | 'shopify';
  /** SHA-256 (base64url) of the CSRF token issued with this session: a token from another session does not pass. */
  csrf: string;
  /** The shop, for sessions opened from the Shopify embedded app. */
  shop?: string;
  iat: number;
  exp: number;
}

/**
 * The HS256 key for session tokens: HKDF-SHA256 of the first (sealing) encryption key, so it needs
 * no setting of its own, is the same in every process, and changes when that key rotates.
 */
export function deriveSessionKey(encryptionKey: Buffer): Buffer {
  return Buffer.from(crypto.hkdfSync('sha256', encryptionKey, 'coinbridge', 'admin-session-jwt-hs256', 32));
}

/**
 * The encryption key as loadSecretBox reads it (ENCRYPTION_KEY's first entry, or the development
 * key file under DATA_DIR, which loadSecretBox creates and has already validated).
 */
export function sessionKeyFromConfig(config: { encryptionKey: string | undefined; dataDir: string }): Buffer {
  const text = (config.encryptionKey ? config.encryptionKey.split(',')[0]! : fs.readFileSync(path.join(config.dataDir, 'encryption.key'), 'utf8')).trim();
  const bytes = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (bytes.length !== 32) throw new Error('the encryption key is not 32 bytes');
  return deriveSessionKey(bytes);
}

export function newCsrfToken(): string {
  return crypto.randomBytes(32).toString('base64url');
}

export function csrfHash(token: string): string {
  return crypto.createHash('sha256').update(token).digest('base64url');
}

/** Constant-time string equality (by digest, so lengths leak nothing either). */
export function sameSecret(a: string, b: string): boolean {
  const ha = crypto.createHash('sha256').update(a).digest();
  const hb = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(ha, hb);
}

export function signSession(key: Buffer, issuer: string, claims: Omit<SessionClaims, 'iat' | 'exp'>, now = Date.now()): string {
  const iat = Math.floor(now / 1000);
  const { sub, ...rest } = claims;
  return jwt.sign({ ...rest, iat, exp: iat + SESSION_TTL_S }, key, { algorithm: 'HS256', audience: SESSION_AUDIENCE, issuer, subject: sub });
}

/**
 * A session token's claims, or why it was refused. HS256 with our key only (`alg: none`, RS256,
 * HS512 are refused before any signature work), audience and issuer pinned, `exp` required and
 * at most one session lifetime after `iat`.
 */
export function verifySession(key: Buffer, issuer: string, token: string, now = Date.now()): { ok: true; claims: SessionClaims } | { ok: false; reason: string } {
  let payload: string | jwt.JwtPayload;
  try {
    payload = jwt.verify(token, key, {
      algorithms: ['HS256'], audience: SESSION_AUDIENCE, issuer, clockTolerance: CLOCK_TOLERANCE_S,
      clockTimestamp: Math.floor(now / 1000), maxAge: SESSION_TTL_S + CLOCK_TOLERANCE_S,
    });
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  if (typeof payload !== 'object') return { ok: false, reason: 'not a JSON payload' };
  const { sub, role, via, csrf, shop, iat, exp } = payload as Record<string, unknown>;
  if (typeof exp !== 'number' || typeof iat !== 'number') return { ok: false, reason: 'no expiry' };
  if (exp - iat > SESSION_TTL_S) return { ok: false, reason: 'lives longer than a session may' };
  if (typeof sub !== 'string' || typeof csrf !== 'string') return { ok: false, reason: 'missing claims' };
  if (role !== 'operator' && role !== 'merchant' && role !== 'support') return { ok: false, reason: 'unknown role' };
  if (via !== 'password' && via !== 'shopify') return { ok: false, reason: 'unknown sign-in kind' };
  if (shop !== undefined && typeof shop !== 'string') return { ok: false, reason: 'bad shop claim' };
  return { ok: true, claims: { sub, role, via, csrf, iat, exp, ...(shop === undefined ? {} : { shop }) } };
}

export interface CookieOptions {
  httpOnly: boolean;
  sameSite: 'Strict' | 'Lax' | 'None';
  secure: boolean;
  /** Seconds; 0 deletes the cookie. */
  maxAge: number;
}

/** Set-Cookie by hand: Koa's cookies refuse `Secure` behind a TLS-terminating proxy that PUBLIC_URL already names https. */
export function serializeCookie(name: string, value: string, opts: CookieOptions): string {
  return [
    `${name}=${value}`, 'Path=/', `Max-Age=${opts.maxAge}`,
    ...(opts.maxAge === 0 ? ['Expires=Thu, 01 Jan 1970 00:00:00 GMT'] : []),
    ...(opts.httpOnly ? ['HttpOnly'] : []), ...(opts.secure ? ['Secure'] : []), `SameSite=${opts.sameSite}`,
  ].join('; ');
}

export function isHttps(publicUrl: string): boolean {
  return publicUrl.toLowerCase().startsWith('https:');
}

/**
 * Session cookies for `publicUrl`. A console signed in with a password is first-party only
 * (SameSite=Strict); one opened from the Shopify admin lives in a third-party iframe, which needs
 * SameSite=None, which browsers accept only with Secure (so plain-http development gets Lax).
 */
function cookieOptions(publicUrl: string, via: SessionClaims['via']): { secure: boolean; sameSite: CookieOptions['sameSite'] } {
  const secure = isHttps(publicUrl);
  if (via === 'shopify') return { secure, sameSite: secure ? 'None' : 'Lax' };
  return { secure, sameSite: 'Strict' };
}

export function setSessionCookies(ctx: Koa.Context, publicUrl: string, session: { token: string; csrf: string; via: SessionClaims['via'] }): void {
  const o = cookieOptions(publicUrl, session.via);
  ctx.append('Set-Cookie', serializeCookie(SESSION_COOKIE, session.token, { ...o, httpOnly: true, maxAge: SESSION_TTL_S }));
  ctx.append('Set-Cookie', serializeCookie(CSRF_COOKIE, session.csrf, { ...o, httpOnly: false, maxAge: SESSION_TTL_S }));
  ctx.set('Cache-Control', 'no-store');
}

export function clearSessionCookies(ctx: Koa.Context, publicUrl: string): void {
  const secure = isHttps(publicUrl);
  ctx.append('Set-Cookie', serializeCookie(SESSION_COOKIE, '', { secure, sameSite: 'Strict', httpOnly: true, maxAge: 0 }));
  ctx.append('Set-Cookie', serializeCookie(CSRF_COOKIE, '', { secure, sameSite: 'Strict', httpOnly: false, maxAge: 0 }));
}

/** A value of the request's Cookie header, without Koa's signed-cookie machinery. */
export function readCookie(ctx: Koa.Context, name: string): string | undefined {
  const header = ctx.get('cookie');
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return value === '' ? undefined : value;
    }
  }
  return undefined;
}
