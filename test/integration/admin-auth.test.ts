/**
 * Support console access: first-run setup, sign-in and lockout, the session JWT in its cookie
 * (refusals of every forgery), CSRF, roles, cookie flags, Shopify merchants arriving with a
 * session token, and the append-only audit log. Real HTTP, real database.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import jwt from 'jsonwebtoken';
import { CSRF_COOKIE, SESSION_AUDIENCE, SESSION_COOKIE, csrfHash, deriveSessionKey, newCsrfToken } from '../../src/admin/session.ts';
import { adminClient, createStaff, setCookies, signIn, staffClient, type AdminClient } from '../support/admin.ts';
import { TEST_ENCRYPTION_KEY, api, createTestStore, startTestApp, waitFor, type TestApp } from '../support/harness.ts';
import { installShop, startWithShopify, type WithShopify } from '../support/shopify.ts';

const SETUP_TOKEN = 'setup-token-for-tests-0123456789';
const PASSWORD = 'a long enough password';
const SESSION_KEY = deriveSessionKey(Buffer.from(TEST_ENCRYPTION_KEY, 'base64'));
const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

const me = (t: { url: string }, cookie: string) => api(t, 'GET', '/v1/admin/me', { headers: { cookie } });

/** The attributes of one Set-Cookie line, lower-cased names. */
function cookieAttributes(headers: Headers, name: string): Map<string, string> {
  const line = headers.getSetCookie().find((l) => l.startsWith(`${name}=`));
  assert.ok(line, `a Set-Cookie for ${name}`);
  return new Map(line.split(';').slice(1).map((p) => {
    const [k, ...v] = p.trim().split('=');
    return [k!.toLowerCase(), v.join('=')];
  }));
}

describe('support console: setup with ADMIN_SETUP_TOKEN, sign-in, sessions, CSRF, roles', () => {
  let t: TestApp;
  let operator: AdminClient;
  const operatorEmail = 'Owner@Example.com';

  before(async () => {
    t = await startTestApp({ ADMIN_SETUP_TOKEN: SETUP_TOKEN });
  });
  after(async () => { await t?.close(); });

  it('creates the first operator with the env token, and only once', async () => {
    assert.ok(!t.logs.join('').includes('admin setup token'), 'no token printed when ADMIN_SETUP_TOKEN is set');
    assert.deepEqual((await api(t, 'GET', '/v1/admin/setup')).body, { required: true });
    const wrong = await api(t, 'POST', '/v1/admin/setup', { body: { token: `${SETUP_TOKEN}x`, email: operatorEmail, password: PASSWORD } });
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.error.code, 'invalid_setup_token');
    const weak = await api(t, 'POST', '/v1/admin/setup', { body: { token: SETUP_TOKEN, email: operatorEmail, password: 'short' } });
    assert.equal(weak.status, 400);
    assert.equal(weak.body.error.code, 'weak_password');

    const ok = await api(t, 'POST', '/v1/admin/setup', { body: { token: SETUP_TOKEN, email: operatorEmail, password: PASSWORD } });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.deepEqual({ email: ok.body.email, role: ok.body.role }, { email: 'owner@example.com', role: 'operator' });
    const cookies = setCookies(ok.headers);
    assert.equal(cookies[CSRF_COOKIE], ok.body.csrfToken);
    const who = await me(t, `${SESSION_COOKIE}=${cookies[SESSION_COOKIE]}; ${CSRF_COOKIE}=${cookies[CSRF_COOKIE]}`);
    assert.equal(who.status, 200);
    assert.equal(who.body.role, 'operator');

    const again = await api(t, 'POST', '/v1/admin/setup', { body: { token: SETUP_TOKEN, email: 'second@example.com', password: PASSWORD } });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'setup_done');
    assert.deepEqual((await api(t, 'GET', '/v1/admin/setup')).body, { required: false });
    const { rows } = await t.app.db.pool.query(`SELECT count(*)::int AS n FROM staff_users WHERE role = 'operator'`);
    assert.equal(rows[0].n, 1);
  });

  it('signs in (email case-insensitive) and answers /me with the principal and CSRF token', async () => {
    operator = await signIn(t, 'OWNER@example.COM', PASSWORD);
    const who = await operator.request('GET', '/v1/admin/me');
    assert.equal(who.status, 200);
    assert.deepEqual({ ...who.body, userId: undefined }, { userId: undefined, email: 'owner@example.com', role: 'operator', storeIds: 'all', via: 'password', csrfToken: operator.csrf });
    assert.equal(who.headers.get('cache-control'), 'no-store');
    assert.equal((await api(t, 'GET', '/v1/admin/me')).status, 401, 'no cookie, no principal');
    assert.equal((await api(t, 'GET', '/v1/admin/me')).body.error.code, 'not_signed_in');
  });

  it('answers a wrong password and an unknown email alike (401, same message)', async () => {
    const wrong = await api(t, 'POST', '/v1/admin/session', { body: { email: operatorEmail, password: `${PASSWORD}!` } });
    const unknown = await api(t, 'POST', '/v1/admin/session', { body: { email: 'nobody@example.com', password: PASSWORD } });
    assert.equal(wrong.status, 401);
    assert.equal(unknown.status, 401);
    assert.deepEqual(wrong.body, unknown.body);
    assert.equal(wrong.body.error.code, 'invalid_credentials');
    assert.equal(wrong.headers.getSetCookie().length, 0);
    // Not JSON: a cross-site form cannot sign anyone in.
    const form = await api(t, 'POST', '/v1/admin/session', { raw: `email=${operatorEmail}&password=${PASSWORD}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(form.status, 415);
    const foreign = await api(t, 'POST', '/v1/admin/session', { body: { email: operatorEmail, password: PASSWORD }, headers: { origin: 'https://evil.example' } });
    assert.equal(foreign.status, 403);
  });

  it('locks an account after 5 failed sign-ins, even against the right password, until the window passes', async () => {
    const staff = await createStaff(t, { role: 'support', email: 'lockme@example.com' });
    const attempt = (password: string) => api(t, 'POST', '/v1/admin/session', { body: { email: staff.email, password } });
    for (let i = 1; i <= 4; i++) assert.equal((await attempt(`wrong password ${i}`)).status, 401, `attempt ${i}`);
    const fifth = await attempt('wrong password 5');
    assert.equal(fifth.status, 423);
    assert.equal(fifth.body.error.code, 'account_locked');
    const until = new Date(fifth.body.error.details.lockedUntil).getTime();
    assert.ok(until > Date.now() + 14 * 60_000 && until <= Date.now() + 15 * 60_000 + 5000, 'locked for 15 minutes');
    const right = await attempt(staff.password);
    assert.equal(right.status, 423, 'still locked with the right password');
    assert.equal(right.headers.getSetCookie().length, 0);

    await t.app.db.pool.query(`UPDATE staff_users SET locked_until = now() - interval '1 second' WHERE id = $1`, [staff.userId]);
    const unlocked = await attempt(staff.password);
    assert.equal(unlocked.status, 200, JSON.stringify(unlocked.body));
    const { rows } = await t.app.db.pool.query('SELECT failed_logins, locked_until FROM staff_users WHERE id = $1', [staff.userId]);
    assert.deepEqual(rows[0], { failed_logins: 0, locked_until: null });
  });

  describe('the session JWT', () => {
    let sub: string;
    let csrf: string;
    const claims = () => ({ sub, role: 'operator', via: 'password', csrf: csrfHash(csrf) });
    const withToken = (token: string) => me(t, `${SESSION_COOKIE}=${token}; ${CSRF_COOKIE}=${csrf}`);
    /** Signs like the server (HS256, our key, audience, issuer, 30 min), but for what `opts` overrides; `expiresIn: null` sets none. */
    const sign = (payload: object, opts: Omit<jwt.SignOptions, 'expiresIn'> & { expiresIn?: jwt.SignOptions['expiresIn'] | null } = {}, key: jwt.Secret = SESSION_KEY) => {
      const { expiresIn = '30m', ...rest } = opts;
      return jwt.sign(payload, key, { algorithm: 'HS256', audience: SESSION_AUDIENCE, issuer: t.app.config.publicUrl, ...(expiresIn === null ? {} : { expiresIn }), ...rest });
    };

    before(async () => {
      sub = (await operator.request('GET', '/v1/admin/me')).body.userId;
      csrf = newCsrfToken();
    });

    it('accepts a token made the way the server makes them (so the refusals below are about one thing each)', async () => {
      const res = await withToken(sign(claims()));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.userId, sub);
    });

    it('refuses alg none, HS512, RS256, wrong audience, wrong issuer, expired, forged, no expiry, over-long life', async () => {
      const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      const valid = sign(claims());
      const [, payload] = valid.split('.');
      const iat = Math.floor(Date.now() / 1000);
      const cases: Record<string, string> = {
        'alg none': `${b64url({ alg: 'none', typ: 'JWT' })}.${payload}.`,
        'alg none (library-made)': sign(claims(), { algorithm: 'none' }, null as unknown as jwt.Secret),
        HS512: sign(claims(), { algorithm: 'HS512' }),
        RS256: sign(claims(), { algorithm: 'RS256' }, privateKey),
        'RS256 header, HMAC with our key': (() => { const h = `${b64url({ alg: 'RS256', typ: 'JWT' })}.${payload}`; return `${h}.${crypto.createHmac('sha256', SESSION_KEY).update(h).digest('base64url')}`; })(),
        'wrong audience': sign(claims(), { audience: 'coinbridge-admin-x' }),
        'wrong issuer': sign(claims(), { issuer: 'https://evil.example' }),
        expired: sign({ ...claims(), iat: iat - 3600, exp: iat - 60 }, { expiresIn: null }),
        'forged signature': sign(claims(), {}, crypto.randomBytes(32)),
        'tampered payload': (() => { const [h, , s] = valid.split('.'); return `${h}.${b64url({ ...jwt.decode(valid) as object, role: 'operator', sub: crypto.randomUUID() })}.${s}`; })(),
        'no expiry': sign(claims(), { expiresIn: null }),
        'lives a day': sign(claims(), { expiresIn: '1d' }),
        garbage: 'not.a.jwt',
      };
      for (const [name, token] of Object.entries(cases)) {
        const res = await withToken(token);
        assert.equal(res.status, 401, `${name}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, 'not_signed_in', name);
      }
    });

    it('renews a session past half its life, and re-checks the account on every request', async () => {
      const old = sign({ ...claims(), iat: Math.floor(Date.now() / 1000) - 20 * 60, exp: Math.floor(Date.now() / 1000) + 10 * 60 }, { expiresIn: null });
      const res = await withToken(old);
      assert.equal(res.status, 200);
      const renewed = setCookies(res.headers)[SESSION_COOKIE];
      assert.ok(renewed, 'a fresh session cookie');
      const exp = (jwt.decode(renewed) as { exp: number }).exp;
      assert.ok(exp > Date.now() / 1000 + 29 * 60);

      const staff = await staffClient(t, { role: 'support' });
      assert.equal((await staff.request('GET', '/v1/admin/me')).status, 200);
      await t.app.db.pool.query('UPDATE staff_users SET disabled_at = now() WHERE id = $1', [staff.staff.userId]);
      assert.equal((await staff.request('GET', '/v1/admin/me')).status, 401, 'a disabled account loses its session at once');
      const again = await api(t, 'POST', '/v1/admin/session', { body: { email: staff.staff.email, password: staff.staff.password } });
      assert.equal(again.status, 401);
      assert.equal(again.body.error.code, 'invalid_credentials');
    });
  });

  describe('CSRF', () => {
    const newUser = () => ({ email: `u-${crypto.randomBytes(4).toString('hex')}@example.com`, password: PASSWORD, role: 'support', storeIds: [] });

    it('refuses a state-changing request without the header, with a wrong one, from a foreign Origin, or with another session\'s token', async () => {
      const noHeader = await api(t, 'POST', '/v1/admin/users', { headers: { cookie: operator.cookie }, body: newUser() });
      assert.equal(noHeader.status, 403);
      assert.equal(noHeader.body.error.code, 'csrf_failed');

      const wrong = await operator.request('POST', '/v1/admin/users', newUser(), { 'x-csrf-token': newCsrfToken() });
      assert.equal(wrong.status, 403);
      assert.equal(wrong.body.error.code, 'csrf_failed');

      const foreign = await operator.request('POST', '/v1/admin/users', newUser(), { origin: 'https://evil.example' });
      assert.equal(foreign.status, 403);
      assert.equal(foreign.body.error.code, 'csrf_failed');
      const crossSite = await operator.request('POST', '/v1/admin/users', newUser(), { 'sec-fetch-site': 'cross-site' });
      assert.equal(crossSite.status, 403);

      // A planted cb_csrf cookie (and matching header) from another session does not pass.
      const other = await signIn(t, operatorEmail, PASSWORD);
      const planted = await api(t, 'POST', '/v1/admin/users', { headers: { cookie: `${SESSION_COOKIE}=${operator.session}; ${CSRF_COOKIE}=${other.csrf}`, 'x-csrf-token': other.csrf }, body: newUser() });
      assert.equal(planted.status, 403);

      const { rows } = await t.app.db.pool.query(`SELECT count(*)::int AS n FROM staff_users WHERE email LIKE 'u-%'`);
      assert.equal(rows[0].n, 0, 'none of those created an account');
    });

    it('lets the right token through, from the right Origin or none', async () => {
      const ok = await operator.request('POST', '/v1/admin/users', newUser());
      assert.equal(ok.status, 201, JSON.stringify(ok.body));
      const sameOrigin = await operator.request('POST', '/v1/admin/users', newUser(), { origin: new URL(t.app.config.publicUrl).origin, 'sec-fetch-site': 'same-origin' });
      assert.equal(sameOrigin.status, 201, JSON.stringify(sameOrigin.body));
    });

    it('signs out (CSRF-checked): the cookies are cleared', async () => {
      const session = await signIn(t, operatorEmail, PASSWORD);
      assert.equal((await api(t, 'DELETE', '/v1/admin/session', { headers: { cookie: session.cookie } })).status, 403);
      const out = await session.request('DELETE', '/v1/admin/session');
      assert.equal(out.status, 204);
      assert.equal(cookieAttributes(out.headers, SESSION_COOKIE).get('max-age'), '0');
      assert.equal(cookieAttributes(out.headers, CSRF_COOKIE).get('max-age'), '0');
    });
  });

  describe('roles and stores', () => {
    it('only operators manage staff; store access is checked and takes effect on the next request', async () => {
      const a = await createTestStore(t, { name: 'Store A' });
      const b = await createTestStore(t, { name: 'Store B' });
      const merchant = await staffClient(t, { role: 'merchant', storeIds: [a.store.id] });
      const support = await staffClient(t, { role: 'support', storeIds: [a.store.id] });
      const body = { email: 'made-by-merchant@example.com', password: PASSWORD, role: 'operator', storeIds: [] };
      for (const [who, client] of [['merchant', merchant], ['support', support]] as const) {
        const res = await client.request('POST', '/v1/admin/users', body);
        assert.equal(res.status, 403, who);
        assert.equal(res.body.error.code, 'forbidden', who);
        assert.equal((await client.request('PUT', `/v1/admin/users/${client.staff.userId}/stores`, { storeIds: [a.store.id, b.store.id] })).status, 403, who);
      }
      assert.deepEqual((await merchant.request('GET', '/v1/admin/me')).body.storeIds, [a.store.id]);

      const unknownStore = await operator.request('POST', '/v1/admin/users', { email: 'x@example.com', password: PASSWORD, role: 'merchant', storeIds: [crypto.randomUUID(), 'not-a-uuid'] });
      assert.equal(unknownStore.status, 400);
      assert.equal(unknownStore.body.error.code, 'unknown_store');
      const dup = await operator.request('POST', '/v1/admin/users', { email: merchant.staff.email.toUpperCase(), password: PASSWORD, role: 'merchant', storeIds: [] });
      assert.equal(dup.status, 409);

      const moved = await operator.request('PUT', `/v1/admin/users/${merchant.staff.userId}/stores`, { storeIds: [b.store.id] });
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
      assert.deepEqual((await merchant.request('GET', '/v1/admin/me')).body.storeIds, [b.store.id], 'the same session sees the new stores');
      assert.equal((await operator.request('PUT', `/v1/admin/users/${crypto.randomUUID()}/stores`, { storeIds: [] })).status, 404);

      const created = await operator.request('POST', '/v1/admin/users', { email: 'New.Merchant@example.com', password: PASSWORD, role: 'merchant', storeIds: [a.store.id] });
      assert.equal(created.status, 201);
      assert.deepEqual({ ...created.body, userId: undefined }, { userId: undefined, email: 'new.merchant@example.com', role: 'merchant', storeIds: [a.store.id] });
      const signedIn = await signIn(t, 'new.merchant@example.com', PASSWORD);
      assert.equal((await signedIn.request('GET', '/v1/admin/me')).body.role, 'merchant');
    });
  });

  it('sets the session cookie httpOnly, SameSite=Strict, Path=/, without Secure on an http PUBLIC_URL; the CSRF cookie readable by the page', async () => {
    const res = await api(t, 'POST', '/v1/admin/session', { body: { email: operatorEmail, password: PASSWORD } });
    const session = cookieAttributes(res.headers, SESSION_COOKIE);
    assert.ok(session.has('httponly'));
    assert.equal(session.get('samesite'), 'Strict');
    assert.equal(session.get('path'), '/');
    assert.equal(session.get('max-age'), String(30 * 60));
    assert.ok(!session.has('secure'));
    const csrf = cookieAttributes(res.headers, CSRF_COOKIE);
    assert.ok(!csrf.has('httponly'));
    assert.equal(csrf.get('samesite'), 'Strict');
    assert.equal(csrf.get('path'), '/');
  });

  it('keeps the audit log append-only, with who did what', async () => {
    const { rows } = await t.app.db.pool.query('SELECT email, role, action, details FROM admin_audit ORDER BY id');
    const actions = rows.map((r) => r.action);
    assert.equal(actions[0], 'setup.operator');
    assert.ok(actions.includes('session.sign_in'));
    const create = rows.find((r) => r.action === 'user.create');
    assert.equal(create.email, 'owner@example.com');
    assert.equal(create.role, 'operator');
    await assert.rejects(t.app.db.pool.query(`UPDATE admin_audit SET note = 'rewritten'`), /append-only/);
    await assert.rejects(t.app.db.pool.query('DELETE FROM admin_audit'), /append-only/);
    const { rows: after } = await t.app.db.pool.query('SELECT count(*)::int AS n FROM admin_audit WHERE note IS NULL');
    assert.equal(after[0].n, rows.length);
  });
});

describe('support console: setup with the printed one-time token', () => {
  let t: TestApp;
  before(async () => { t = await startTestApp(); });
  after(async () => { await t?.close(); });

  it('prints a token once at start-up, accepts it once, and refuses a second setup', async () => {
    const lines = t.logs.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const printed = lines.filter((l) => l.msg === 'admin setup token');
    assert.equal(printed.length, 1);
    const token: string = printed[0].setupToken;
    assert.ok(token.length >= 24);
    assert.equal(printed[0].setupUrl, `${t.app.config.publicUrl}/admin/setup`);
    const { rows } = await t.app.db.pool.query('SELECT token_hash FROM admin_setup');
    assert.equal(rows.length, 1);
    assert.notEqual(rows[0].token_hash, token, 'only a hash is stored');

    const wrong = await api(t, 'POST', '/v1/admin/setup', { body: { token: `${token}x`, email: 'first@example.com', password: PASSWORD } });
    assert.equal(wrong.status, 403);
    const ok = await api(t, 'POST', '/v1/admin/setup', { body: { token, email: 'first@example.com', password: PASSWORD } });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    const again = await api(t, 'POST', '/v1/admin/setup', { body: { token, email: 'second@example.com', password: PASSWORD } });
    assert.equal(again.status, 409);
    const { rows: used } = await t.app.db.pool.query('SELECT used_at FROM admin_setup');
    assert.ok(used[0].used_at instanceof Date);
    assert.equal((await signIn(t, 'first@example.com', PASSWORD)).csrf.length > 20, true);
  });
});

describe('support console: Secure cookies behind an https PUBLIC_URL', () => {
  let t: TestApp;
  before(async () => { t = await startTestApp({ PUBLIC_URL: 'https://console.example.test' }); });
  after(async () => { await t?.close(); });

  it('marks both cookies Secure, and pins the issuer to PUBLIC_URL', async () => {
    const staff = await createStaff(t, { role: 'operator' });
    const res = await api(t, 'POST', '/v1/admin/session', { body: { email: staff.email, password: staff.password } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    for (const name of [SESSION_COOKIE, CSRF_COOKIE]) {
      const attrs = cookieAttributes(res.headers, name);
      assert.ok(attrs.has('secure'), `${name} Secure`);
      assert.equal(attrs.get('samesite'), 'Strict');
      assert.equal(attrs.get('path'), '/');
    }
    assert.ok(cookieAttributes(res.headers, SESSION_COOKIE).has('httponly'));
    const cookies = setCookies(res.headers);
    assert.equal((jwt.decode(cookies[SESSION_COOKIE]!) as { iss: string }).iss, 'https://console.example.test');
    const client = adminClient(t, cookies[SESSION_COOKIE]!, cookies[CSRF_COOKIE]!);
    assert.equal((await client.request('GET', '/v1/admin/me')).status, 200);
    const created = await client.request('POST', '/v1/admin/users', { email: 'sec@example.com', password: PASSWORD, role: 'support', storeIds: [] }, { origin: 'https://console.example.test' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const plainOrigin = await client.request('POST', '/v1/admin/users', { email: 'sec2@example.com', password: PASSWORD, role: 'support', storeIds: [] }, { origin: 'http://console.example.test' });
    assert.equal(plainOrigin.status, 403);
  });
});

describe('support console: Shopify merchants via session token', () => {
  let s: WithShopify;
  let storeId: string;
  const SHOP = 'console-shop.myshopify.com';
  const OTHER = 'console-other.myshopify.com';

  before(async () => {
    s = await startWithShopify();
    ({ storeId } = await installShop(s, SHOP));
    await installShop(s, OTHER);
  });
  after(async () => { await s?.close(); });

  const bearerMe = (token: string) => api(s.t, 'GET', '/v1/admin/me', { headers: { authorization: `Bearer ${token}` } });

  it('POST /admin/shopify with a valid session token signs the merchant into that shop\'s store', async () => {
    const res = await fetch(`${s.t.url}/admin/shopify`, {
      method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ idToken: s.emu.sessionToken(s.app.clientId, SHOP) }).toString(),
    });
    assert.equal(res.status, 303, await res.text());
    assert.equal(res.headers.get('location'), '/admin');
    const attrs = cookieAttributes(res.headers, SESSION_COOKIE);
    assert.ok(attrs.has('httponly'));
    assert.equal(attrs.get('samesite'), 'Lax', 'SameSite=None needs Secure, which an http PUBLIC_URL cannot give');
    const cookies = setCookies(res.headers);
    const client = adminClient(s.t, cookies[SESSION_COOKIE]!, cookies[CSRF_COOKIE]!);
    const who = await client.request('GET', '/v1/admin/me');
    assert.equal(who.status, 200, JSON.stringify(who.body));
    assert.deepEqual(who.body, { userId: `shopify:${SHOP}`, email: SHOP, role: 'merchant', storeIds: [storeId], via: 'shopify', csrfToken: client.csrf });
    assert.equal((await client.request('POST', '/v1/admin/users', { email: 'm@example.com', password: PASSWORD, role: 'support', storeIds: [] })).status, 403);

    const json = await api(s.t, 'POST', '/admin/shopify', { body: { idToken: s.emu.sessionToken(s.app.clientId, SHOP) } });
    assert.equal(json.status, 303);
  });

  it('accepts the session token as Bearer on /v1/admin/*, with no CSRF token needed', async () => {
    const who = await bearerMe(s.emu.sessionToken(s.app.clientId, SHOP));
    assert.equal(who.status, 200, JSON.stringify(who.body));
    assert.deepEqual(who.body, { userId: `shopify:${SHOP}`, email: SHOP, role: 'merchant', storeIds: [storeId], via: 'shopify', csrfToken: null });
    const post = await api(s.t, 'POST', '/v1/admin/users', { headers: { authorization: `Bearer ${s.emu.sessionToken(s.app.clientId, SHOP)}` }, body: { email: 'b@example.com', password: PASSWORD, role: 'support', storeIds: [] } });
    assert.equal(post.status, 403);
    assert.equal(post.body.error.code, 'forbidden', 'past CSRF, stopped by the role');
  });

  it('refuses forged session tokens and tokens for unknown or uninstalled shops (401)', async () => {
    const unknown = 'never-installed.myshopify.com';
    s.emu.addShop(unknown);
    const cases: Record<string, string> = {
      'unknown shop': s.emu.sessionToken(s.app.clientId, unknown),
      'alg none': s.emu.sessionToken(s.app.clientId, SHOP, { variant: 'alg-none' }),
      'bad signature': s.emu.sessionToken(s.app.clientId, SHOP, { variant: 'bad-signature' }),
      expired: s.emu.sessionToken(s.app.clientId, SHOP, { variant: 'expired' }),
      'wrong app': s.emu.sessionToken(s.app.clientId, SHOP, { variant: 'wrong-aud' }),
    };
    for (const [name, token] of Object.entries(cases)) {
      const res = await bearerMe(token);
      assert.equal(res.status, 401, `${name}: ${JSON.stringify(res.body)}`);
      const form = await api(s.t, 'POST', '/admin/shopify', { body: { idToken: token } });
      assert.equal(form.status, 401, `${name} via /admin/shopify`);
      assert.equal(form.headers.getSetCookie().length, 0);
    }

    // A console session opened before the uninstall ends with it.
    const opened = await api(s.t, 'POST', '/admin/shopify', { body: { idToken: s.emu.sessionToken(s.app.clientId, OTHER) } });
    assert.equal(opened.status, 303);
    const cookies = setCookies(opened.headers);
    const client = adminClient(s.t, cookies[SESSION_COOKIE]!, cookies[CSRF_COOKIE]!);
    assert.equal((await client.request('GET', '/v1/admin/me')).status, 200);
    const [delivery] = await s.emu.emit(OTHER, 'app/uninstalled', { id: 1, domain: OTHER });
    assert.ok(delivery?.delivered);
    await waitFor('the uninstall to be recorded', async () => {
      const { rows } = await s.t.app.db.pool.query('SELECT uninstalled_at FROM shopify_shops WHERE shop_domain = $1', [OTHER]);
      return rows[0].uninstalled_at !== null;
    });
    assert.equal((await bearerMe(s.emu.sessionToken(s.app.clientId, OTHER))).status, 401, 'uninstalled shop');
    assert.equal((await client.request('GET', '/v1/admin/me')).status, 401, 'its cookie session too');
    assert.equal((await api(s.t, 'POST', '/admin/shopify', { body: { idToken: s.emu.sessionToken(s.app.clientId, OTHER) } })).status, 401);
  });
});
