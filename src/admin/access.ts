import type Koa from 'koa';
import type { Config } from '../config.ts';
import type { PaymentService } from '../core/payment-service.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { withTransaction, type Database, type Queryable } from '../db/database.ts';
import { InputError } from '../errors.ts';
import type { JobWaker } from '../jobs/queue.ts';
import type { Logger } from '../observability/log.ts';
import { checkSessionToken } from '../platforms/shopify/session-token.ts';
import { findShop } from '../platforms/shopify/shops.ts';
import { hashPassword, passwordProblem } from './passwords.ts';
import {
  CSRF_COOKIE, CSRF_HEADER, RENEW_BELOW_S, SESSION_COOKIE, csrfHash, readCookie, sameSecret, setSessionCookies, signSession, verifySession,
  type SessionClaims,
} from './session.ts';

export type StaffRole = 'operator' | 'merchant' | 'support';
export const STAFF_ROLES: readonly StaffRole[] = ['operator', 'merchant', 'support'];

export interface StaffPrincipal {
  /** staff_users.id, or 'shopify:{shop}' for a Shopify merchant via session token. */
  userId: string;
  email: string;
  role: StaffRole;
  /** Operators: 'all'; merchants and support: their assigned stores. */
  storeIds: 'all' | string[];
  via: 'password' | 'shopify';
}

/** What the console's parts share; built once by adminModule. */
export interface AdminDeps {
  db: Database;
  box: SecretBox;
  log: Logger;
  config: Config;
  payments: PaymentService;
  waker: JobWaker;
  /** config.publicUrl: the session tokens' issuer and the only Origin state-changing requests may come from. */
  publicUrl: string;
  /** HS256 key of session tokens (session.ts sessionKeyFromConfig). */
  sessionKey: Buffer;
}

/** How the request authenticated: ctx.state.staffAuth, next to ctx.state.staff. */
export type StaffAuth = { kind: 'cookie'; claims: SessionClaims } | { kind: 'bearer' };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

export function canSeeStore(staff: StaffPrincipal, storeId: string): boolean {
  return staff.storeIds === 'all' || staff.storeIds.includes(storeId.toLowerCase());
}

/** Appends to the audit log (who, when, what, why). */
export async function audit(
  q: Queryable, staff: StaffPrincipal,
  entry: { action: string; storeId?: string | null; paymentId?: string | null; note?: string | null; details?: Record<string, unknown> },
): Promise<void> {
  await q.query(
    `INSERT INTO admin_audit (user_id, email, role, action, store_id, payment_id, note, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [staff.userId, staff.email, staff.role, entry.action, entry.storeId ?? null, entry.paymentId ?? null, entry.note ?? null, JSON.stringify({ via: staff.via, ...entry.details })],
  );
}

// ---------------------------------------------------------------------------------------------
// Staff accounts

export interface StaffUserRow {
  id: string;
  email: string;
  passwordHash: string;
  role: StaffRole;
  failedLogins: number;
  lockedUntil: Date | null;
  disabledAt: Date | null;
}

function toUser(r: Record<string, any>): StaffUserRow {
  return { id: r.id, email: r.email, passwordHash: r.password_hash, role: r.role, failedLogins: r.failed_logins, lockedUntil: r.locked_until, disabledAt: r.disabled_at };
}

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

export async function findStaffByEmail(q: Queryable, email: string): Promise<StaffUserRow | undefined> {
  const { rows } = await q.query('SELECT * FROM staff_users WHERE email = $1', [normaliseEmail(email)]);
  return rows[0] ? toUser(rows[0]) : undefined;
}

export async function operatorExists(q: Queryable): Promise<boolean> {
  const { rows } = await q.query(`SELECT 1 FROM staff_users WHERE role = 'operator' AND disabled_at IS NULL LIMIT 1`);
  return rows.length > 0;
}

/** The signed-in principal of a staff account as the database says now; undefined if gone or disabled. */
export async function staffPrincipal(q: Queryable, userId: string): Promise<StaffPrincipal | undefined> {
  if (!isUuid(userId)) return undefined;
  const { rows } = await q.query(
    `SELECT u.id, u.email, u.role, u.disabled_at,
            coalesce(array_agg(a.store_id::text ORDER BY a.store_id) FILTER (WHERE a.store_id IS NOT NULL), '{}') AS store_ids
       FROM staff_users u LEFT JOIN staff_store_access a ON a.user_id = u.id
      WHERE u.id = $1 GROUP BY u.id`, [userId]);
  const r = rows[0];
  if (!r || r.disabled_at) return undefined;
  return { userId: r.id, email: r.email, role: r.role, storeIds: r.role === 'operator' ? 'all' : r.store_ids, via: 'password' };
}

async function checkStores(q: Queryable, storeIds: readonly string[]): Promise<string[]> {
  const ids = [...new Set(storeIds.map((s) => s.toLowerCase()))];
  const bad: string[] = ids.filter((s) => !UUID.test(s));
  if (bad.length === 0 && ids.length > 0) {
    const { rows } = await q.query('SELECT id::text FROM stores WHERE id = ANY($1::uuid[])', [ids]);
    const found = new Set<string>(rows.map((r) => r.id));
    bad.push(...ids.filter((s) => !found.has(s)));
  }
  if (bad.length > 0) throw new InputError('unknown_store', `No such store: ${bad.join(', ')}.`, 400, { storeIds: bad });
  return ids;
}

/** Replaces the stores a merchant or support account may see (inside the caller's transaction). */
export async function setStaffStores(tx: Queryable, userId: string, storeIds: readonly string[]): Promise<string[]> {
  const ids = await checkStores(tx, storeIds);
  await tx.query('DELETE FROM staff_store_access WHERE user_id = $1', [userId]);
  if (ids.length > 0) {
    await tx.query('INSERT INTO staff_store_access (user_id, store_id) SELECT $1, unnest($2::uuid[])', [userId, ids]);
  }
  return ids;
}

export interface NewStaff {
  email: string;
  password: string;
  role: StaffRole;
  /** Ignored for operators (they see every store). */
  storeIds?: readonly string[];
}

/** Checks the input and hashes the password (slow: do it before opening a transaction). */
export async function prepareStaff(input: NewStaff): Promise<{ email: string; passwordHash: string; role: StaffRole; storeIds: readonly string[] }> {
  const email = normaliseEmail(input.email);
  if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 254) throw new InputError('invalid_email', 'Give a valid email address.', 400);
  if (!STAFF_ROLES.includes(input.role)) throw new InputError('invalid_role', `role must be one of ${STAFF_ROLES.join(', ')}.`, 400);
  const problem = passwordProblem(input.password, email);
  if (problem) throw new InputError('weak_password', `The password ${problem}.`, 400);
  return { email, passwordHash: await hashPassword(input.password), role: input.role, storeIds: input.role === 'operator' ? [] : input.storeIds ?? [] };
}

/** Inserts a prepared account inside the caller's transaction; 409 when the email is taken. */
export async function insertStaff(tx: Queryable, staff: Awaited<ReturnType<typeof prepareStaff>>): Promise<StaffPrincipal> {
  const { rows } = await tx.query(
    `INSERT INTO staff_users (email, password_hash, role) VALUES ($1, $2, $3) ON CONFLICT (email) DO NOTHING RETURNING id`,
    [staff.email, staff.passwordHash, staff.role]);
  if (!rows[0]) throw new InputError('email_taken', `${staff.email} already has an account.`, 409);
  const id: string = rows[0].id;
  const storeIds = staff.role === 'operator' ? [] : await setStaffStores(tx, id, staff.storeIds);
  return { userId: id, email: staff.email, role: staff.role, storeIds: staff.role === 'operator' ? 'all' : storeIds, via: 'password' };
}

/** Creates a staff account (validated, password hashed, stores checked) in one transaction. */
export async function createStaffUser(db: Database, input: NewStaff): Promise<StaffPrincipal> {
  const prepared = await prepareStaff(input);
  return withTransaction(db.pool, (tx) => insertStaff(tx, prepared));
}

// ---------------------------------------------------------------------------------------------
// Shopify merchants (embedded app session tokens)

/**
 * The merchant principal of a Shopify session token: valid for an app registered here, for a shop
 * installed through that same app and given a store. No token exchange here: a shop the console
 * does not know yet is refused (the embedded app installs it).
 */
export async function shopifyPrincipal(deps: Pick<AdminDeps, 'db' | 'box'>, token: string): Promise<{ ok: true; staff: StaffPrincipal; shop: string } | { ok: false; reason: string }> {
  const check = await checkSessionToken(deps.db.pool, deps.box, token);
  if (!check.ok) return check;
  const principal = await shopPrincipal(deps, check.value.shop, check.value.app.id);
  return principal ? { ok: true, staff: principal, shop: check.value.shop } : { ok: false, reason: `${check.value.shop} is not installed` };
}

/** A Shopify shop's merchant principal while the shop stays installed (through `appId`, when given). */
export async function shopPrincipal(deps: Pick<AdminDeps, 'db' | 'box'>, shopDomain: string, appId?: string): Promise<StaffPrincipal | undefined> {
  const shop = await findShop(deps.db.pool, deps.box, shopDomain);
  if (!shop?.installed || !shop.storeId || (appId !== undefined && shop.appId !== appId)) return undefined;
  return { userId: `shopify:${shop.domain}`, email: shop.domain, role: 'merchant', storeIds: [shop.storeId], via: 'shopify' };
}

// ---------------------------------------------------------------------------------------------
// Middleware

function notSignedIn(why?: string): InputError {
  return new InputError('not_signed_in', `Sign in to the console first${why ? ` (${why})` : ''}.`, 401);
}

function bearer(ctx: Koa.Context): string | undefined {
  const header = ctx.get('authorization');
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw notSignedIn('the Authorization header must be "Bearer <Shopify session token>"');
  return match[1]!;
}

/**
 * Who is asking: a Bearer Shopify session token (then cookies are ignored), else the session
 * cookie, whose claims are re-checked against the database (account present and enabled, role
 * and stores as they are now). Renews a cookie session past half its life. Memoised per request.
 */
export async function authenticateStaff(deps: AdminDeps, ctx: Koa.Context): Promise<StaffPrincipal | undefined> {
  if (ctx.state.staff) return ctx.state.staff as StaffPrincipal;
  const token = bearer(ctx);
  if (token !== undefined) {
    const result = await shopifyPrincipal(deps, token);
    if (!result.ok) throw notSignedIn(`the Shopify session token was refused: ${result.reason}`);
    ctx.state.staff = result.staff;
    ctx.state.staffAuth = { kind: 'bearer' } satisfies StaffAuth;
    return result.staff;
  }
  const cookie = readCookie(ctx, SESSION_COOKIE);
  if (!cookie) return undefined;
  const verified = verifySession(deps.sessionKey, deps.publicUrl, cookie);
  if (!verified.ok) throw notSignedIn('the session is invalid or has expired');
  const { claims } = verified;
  const staff = claims.via === 'shopify'
    ? (claims.shop && claims.sub === `shopify:${claims.shop}` ? await shopPrincipal(deps, claims.shop) : undefined)
    : await staffPrincipal(deps.db.pool, claims.sub);
  if (!staff) throw notSignedIn('the account is no longer active');
  ctx.state.staff = staff;
  ctx.state.staffAuth = { kind: 'cookie', claims } satisfies StaffAuth;
  const csrf = readCookie(ctx, CSRF_COOKIE);
  if (claims.exp - Date.now() / 1000 < RENEW_BELOW_S && csrf && csrfHash(csrf) === claims.csrf) {
    const renewed = signSession(deps.sessionKey, deps.publicUrl, { sub: claims.sub, role: staff.role, via: claims.via, csrf: claims.csrf, ...(claims.shop ? { shop: claims.shop } : {}) });
    setSessionCookies(ctx, deps.publicUrl, { token: renewed, csrf, via: claims.via });
  }
  return staff;
}

/** Sets ctx.state.staff or refuses: 401 `not_signed_in`; with `{ roles }`, 403 `forbidden` for other roles. */
export function requireStaff(deps: AdminDeps, opts: { roles?: StaffRole[] } = {}): Koa.Middleware {
  return async (ctx, next) => {
    const staff = await authenticateStaff(deps, ctx);
    if (!staff) throw notSignedIn();
    ctx.set('Cache-Control', 'no-store');
    if (opts.roles && !opts.roles.includes(staff.role)) {
      throw new InputError('forbidden', `The ${staff.role} role may not do this (${opts.roles.join(' or ')} only).`, 403);
    }
    await next();
  };
}

function csrfFailed(why: string): InputError {
  return new InputError('csrf_failed', `Request refused as a possible cross-site request forgery: ${why}. Reload the console and try again.`, 403);
}

/** Refuses a request whose Origin (when sent) is not PUBLIC_URL's, or that a browser labels cross-site. */
export function checkOrigin(ctx: Koa.Context, publicUrl: string): void {
  const origin = ctx.get('origin');
  if (origin && origin !== new URL(publicUrl).origin) throw csrfFailed(`it comes from ${origin.slice(0, 100)}`);
  const site = ctx.get('sec-fetch-site');
  if (site && site !== 'same-origin' && site !== 'none') throw csrfFailed(`the browser says it is ${site}`);
}

/**
 * On POST/PUT/PATCH/DELETE with a cookie session: header `X-CSRF-Token` must equal the `cb_csrf`
 * cookie (double submit) and be the token issued with that very session, and `Origin` (when
 * present) must be PUBLIC_URL's origin → else 403 `csrf_failed`. Bearer (Shopify session token)
 * requests skip it: a browser never attaches those on its own. So do requests with no session
 * cookie at all: they carry no ambient authority to abuse (requireStaff refuses them).
 */
export function csrfProtection(deps: AdminDeps): Koa.Middleware {
  return async (ctx, next) => {
    if (SAFE_METHODS.has(ctx.method) || /^Bearer\s/i.test(ctx.get('authorization'))) return next();
    const session = readCookie(ctx, SESSION_COOKIE);
    if (!session) return next();
    checkOrigin(ctx, deps.publicUrl);
    const header = ctx.get(CSRF_HEADER);
    const cookie = readCookie(ctx, CSRF_COOKIE);
    if (!header) throw csrfFailed(`the ${CSRF_HEADER} header is missing`);
    if (!cookie || !sameSecret(header, cookie)) throw csrfFailed(`the ${CSRF_HEADER} header does not match the session`);
    const verified = verifySession(deps.sessionKey, deps.publicUrl, session);
    // An invalid session is refused by requireStaff (401); a valid one must be the CSRF token's own.
    if (verified.ok && !sameSecret(csrfHash(header), verified.claims.csrf)) throw csrfFailed(`the ${CSRF_HEADER} header does not match the session`);
    await next();
  };
}
