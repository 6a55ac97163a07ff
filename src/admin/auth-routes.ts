import crypto from 'node:crypto';
import Router from '@koa/router';
import type Koa from 'koa';
import { z } from 'zod';
import { withTransaction } from '../db/database.ts';
import { InputError } from '../errors.ts';
import { readJsonObject, readRawBody } from '../http/body.ts';
import { describeIssues } from '../http/validation.ts';
import {
  STAFF_ROLES, audit, checkOrigin, csrfProtection, findStaffByEmail, insertStaff, isUuid, operatorExists, prepareStaff,
  requireStaff, setStaffStores, shopifyPrincipal, staffPrincipal, type AdminDeps, type StaffAuth, type StaffPrincipal,
} from './access.ts';
import { MAX_PASSWORD_LENGTH, burnPasswordCheck, verifyPassword } from './passwords.ts';
import { CSRF_COOKIE, clearSessionCookies, csrfHash, newCsrfToken, readCookie, sameSecret, setSessionCookies, signSession } from './session.ts';

const BODY_LIMIT = 16 * 1024;
export const MAX_FAILED_SIGN_INS = 5;
export const LOCKOUT_MINUTES = 15;
/** Whoever holds it creates the first operator. */
const SETUP_LOCK = 0x61646d6e;

const SignIn = z.object({ email: z.string().max(254), password: z.string().max(MAX_PASSWORD_LENGTH) });
const Setup = z.object({ token: z.string().min(1).max(200), email: z.string().max(254), password: z.string() });
const NewUser = z.object({ email: z.string().max(254), password: z.string(), role: z.enum(STAFF_ROLES as [string, ...string[]]), storeIds: z.array(z.string()).max(1000).default([]) }).strict();
const StoreList = z.object({ storeIds: z.array(z.string()).max(1000) }).strict();

function parse<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new InputError('invalid_body', 'The request body is not as expected.', 400, describeIssues(parsed.error));
  return parsed.data;
}

function invalidCredentials(): InputError {
  return new InputError('invalid_credentials', 'That email and password do not match an account.', 401);
}

function locked(until: Date): InputError {
  return new InputError('account_locked', `Too many failed sign-ins: the account is locked until ${until.toISOString()}.`, 423, { lockedUntil: until.toISOString() });
}

export function setupTokenHash(token: string): string {
  return crypto.createHash('sha256').update(token).digest('hex');
}

/**
 * While no operator exists and ADMIN_SETUP_TOKEN is not set: makes a one-time setup token, keeps
 * its hash and prints it once, so whoever reads this process's log can create the first operator.
 */
export async function prepareSetup(deps: AdminDeps): Promise<void> {
  if (deps.config.adminSetupToken || (await operatorExists(deps.db.pool))) return;
  const token = crypto.randomBytes(24).toString('base64url');
  await deps.db.pool.query('INSERT INTO admin_setup (token_hash) VALUES ($1)', [setupTokenHash(token)]);
  deps.log.warn({ setupToken: token, setupUrl: `${deps.publicUrl}/admin/setup` }, 'admin setup token');
}

/**
 * Sign-in, sign-out, who-am-I, first-run setup, staff accounts (operators), and the Shopify
 * embedded app's way in.
 */
export function adminAuthRoutes(deps: AdminDeps): Router {
  const router = new Router();
  const operatorOnly = [requireStaff(deps, { roles: ['operator'] }), csrfProtection(deps)];

  /** A fresh session (and CSRF token) for `staff`, in cookies; returns the CSRF token. */
  function startSession(ctx: Koa.Context, staff: StaffPrincipal, shop?: string): string {
    const csrf = newCsrfToken();
    const token = signSession(deps.sessionKey, deps.publicUrl, { sub: staff.userId, role: staff.role, via: staff.via, csrf: csrfHash(csrf), ...(shop ? { shop } : {}) });
    setSessionCookies(ctx, deps.publicUrl, { token, csrf, via: staff.via });
    return csrf;
  }

  router.get('/v1/admin/setup', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { required: !(await operatorExists(deps.db.pool)) };
  });

  router.post('/v1/admin/setup', async (ctx) => {
    checkOrigin(ctx, deps.publicUrl);
    const input = parse(Setup, await readJsonObject(ctx, BODY_LIMIT));
    const prepared = await prepareStaff({ email: input.email, password: input.password, role: 'operator' });
    const staff = await withTransaction(deps.db.pool, async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [SETUP_LOCK]);
      if (await operatorExists(tx)) throw new InputError('setup_done', 'Setup is done: an operator account exists. Sign in instead.', 409);
      const envToken = deps.config.adminSetupToken;
      const valid = envToken
        ? sameSecret(input.token, envToken)
        : (await tx.query('UPDATE admin_setup SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL RETURNING 1', [setupTokenHash(input.token)])).rows.length > 0;
      if (!valid) throw new InputError('invalid_setup_token', 'That setup token is not valid. Use ADMIN_SETUP_TOKEN, or the token printed in the log at start-up.', 403);
      const created = await insertStaff(tx, prepared);
      await audit(tx, created, { action: 'setup.operator', details: { tokenFrom: envToken ? 'env' : 'log' } });
      return created;
    });
    deps.log.info({ userId: staff.userId }, 'first operator created');
    const csrfToken = startSession(ctx, staff);
    ctx.status = 201;
    ctx.body = { email: staff.email, role: staff.role, csrfToken };
  });

  router.post('/v1/admin/session', async (ctx) => {
    checkOrigin(ctx, deps.publicUrl);
    const input = parse(SignIn, await readJsonObject(ctx, BODY_LIMIT));
    const user = await findStaffByEmail(deps.db.pool, input.email);
    if (!user || user.disabledAt) {
      await burnPasswordCheck(input.password);
      throw invalidCredentials();
    }
    if (user.lockedUntil && user.lockedUntil > new Date()) throw locked(user.lockedUntil);
    if (!(await verifyPassword(input.password, user.passwordHash))) {
      const { rows } = await deps.db.pool.query(
        `UPDATE staff_users SET
            locked_until = CASE WHEN failed_logins + 1 >= $2 THEN now() + make_interval(mins => $3) ELSE locked_until END,
            failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END
          WHERE id = $1 RETURNING locked_until`, [user.id, MAX_FAILED_SIGN_INS, LOCKOUT_MINUTES]);
      const until: Date | null = rows[0]?.locked_until ?? null;
      if (until && until > new Date()) {
        deps.log.warn({ userId: user.id, lockedUntil: until }, 'staff account locked after failed sign-ins');
        throw locked(until);
      }
      throw invalidCredentials();
    }
    // Checked again atomically: a lock set by parallel failed attempts while we hashed still holds.
    const { rows } = await deps.db.pool.query(
      `UPDATE staff_users SET failed_logins = 0, locked_until = NULL
        WHERE id = $1 AND disabled_at IS NULL AND (locked_until IS NULL OR locked_until <= now()) RETURNING id, locked_until`, [user.id]);
    if (!rows[0]) {
      const again = await findStaffByEmail(deps.db.pool, input.email);
      if (again?.lockedUntil && again.lockedUntil > new Date()) throw locked(again.lockedUntil);
      throw invalidCredentials();
    }
    const staff = await staffPrincipal(deps.db.pool, user.id);
    if (!staff) throw invalidCredentials();
    await audit(deps.db.pool, staff, { action: 'session.sign_in' });
    const csrfToken = startSession(ctx, staff);
    ctx.body = { email: staff.email, role: staff.role, csrfToken };
  });

  router.delete('/v1/admin/session', csrfProtection(deps), async (ctx) => {
    clearSessionCookies(ctx, deps.publicUrl);
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 204;
  });

  router.get('/v1/admin/me', requireStaff(deps), async (ctx) => {
    const staff = ctx.state.staff as StaffPrincipal;
    const auth = ctx.state.staffAuth as StaffAuth;
    let csrfToken: string | null = null;
    if (auth.kind === 'cookie') {
      const cookie = readCookie(ctx, CSRF_COOKIE);
      // The CSRF cookie went missing (or is another session's): issue the session afresh.
      csrfToken = cookie && sameSecret(csrfHash(cookie), auth.claims.csrf) ? cookie : startSession(ctx, staff, auth.claims.shop);
    }
    ctx.body = { userId: staff.userId, email: staff.email, role: staff.role, storeIds: staff.storeIds, via: staff.via, csrfToken };
  });

  router.post('/v1/admin/users', ...operatorOnly, async (ctx) => {
    const input = parse(NewUser, await readJsonObject(ctx, BODY_LIMIT));
    const prepared = await prepareStaff({ email: input.email, password: input.password, role: input.role as StaffPrincipal['role'], storeIds: input.storeIds });
    const by = ctx.state.staff as StaffPrincipal;
    const created = await withTransaction(deps.db.pool, async (tx) => {
      const user = await insertStaff(tx, prepared);
      await audit(tx, by, { action: 'user.create', details: { userId: user.userId, email: user.email, role: user.role, storeIds: user.storeIds } });
      return user;
    });
    ctx.status = 201;
    ctx.body = { userId: created.userId, email: created.email, role: created.role, storeIds: created.storeIds };
  });

  router.put('/v1/admin/users/:id/stores', ...operatorOnly, async (ctx) => {
    const input = parse(StoreList, await readJsonObject(ctx, BODY_LIMIT));
    const id = ctx.params.id!;
    const by = ctx.state.staff as StaffPrincipal;
    const user = isUuid(id) ? await staffPrincipal(deps.db.pool, id) : undefined;
    if (!user) throw new InputError('user_not_found', 'No such staff account.', 404);
    if (user.role === 'operator') throw new InputError('operator_sees_all', 'Operators see every store; store access applies to merchant and support accounts.', 409);
    const storeIds = await withTransaction(deps.db.pool, async (tx) => {
      await tx.query('SELECT 1 FROM staff_users WHERE id = $1 FOR UPDATE', [id]);
      const ids = await setStaffStores(tx, id, input.storeIds);
      await audit(tx, by, { action: 'user.stores', details: { userId: id, email: user.email, before: user.storeIds, after: ids } });
      return ids;
    });
    ctx.body = { userId: id, email: user.email, role: user.role, storeIds };
  });

  // The embedded Shopify app hands over a session token (form post or JSON) and the merchant lands
  // in their store's console, signed in, without a second login.
  router.post('/admin/shopify', async (ctx) => {
    let idToken: unknown;
    if (ctx.is('application/json')) {
      const body = await readJsonObject(ctx, BODY_LIMIT);
      idToken = body.idToken ?? body.id_token;
    } else if (ctx.is('application/x-www-form-urlencoded')) {
      const form = new URLSearchParams((await readRawBody(ctx, BODY_LIMIT)).toString('utf8'));
      idToken = form.get('idToken') ?? form.get('id_token');
    } else {
      throw new InputError('unsupported_media_type', 'Post the Shopify session token as a form field idToken or as JSON {"idToken": …}.', 415);
    }
    if (typeof idToken !== 'string' || idToken === '') throw new InputError('missing_session_token', 'Send the Shopify session token as idToken.', 401);
    const result = await shopifyPrincipal(deps, idToken);
    if (!result.ok) throw new InputError('invalid_session_token', `The Shopify session token was refused: ${result.reason}. Open the app from the Shopify admin again.`, 401);
    startSession(ctx, result.staff, result.shop);
    await audit(deps.db.pool, result.staff, { action: 'session.shopify', storeId: (result.staff.storeIds as string[])[0] ?? null });
    ctx.redirect('/admin');
    ctx.status = 303;
  });
  return router;
}
