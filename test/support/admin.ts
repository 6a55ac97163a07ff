/**
 * Support console helpers: staff accounts made straight in the database (through the same code
 * the console uses) and a tiny cookie-jar client that signs in and sends the CSRF header.
 */
import crypto from 'node:crypto';
import { createStaffUser, type StaffPrincipal, type StaffRole } from '../../src/admin/access.ts';
import { CSRF_COOKIE, SESSION_COOKIE } from '../../src/admin/session.ts';
import { api, type ApiResponse, type TestApp } from './harness.ts';

export const STAFF_PASSWORD = 'correct horse battery staple';

export interface TestStaff extends StaffPrincipal {
  password: string;
}

/** A staff account (merchant and support see only `storeIds`; operators see all). */
export async function createStaff(t: TestApp, opts: { role: StaffRole; storeIds?: string[]; email?: string; password?: string }): Promise<TestStaff> {
  const email = opts.email ?? `${opts.role}-${crypto.randomBytes(4).toString('hex')}@staff.example`;
  const password = opts.password ?? STAFF_PASSWORD;
  const staff = await createStaffUser(t.app.db, { email, password, role: opts.role, storeIds: opts.storeIds ?? [] });
  return { ...staff, password };
}

export interface AdminClient {
  /** `cb_session=…; cb_csrf=…`, for a Cookie header (or a browser context's cookies). */
  cookie: string;
  session: string;
  csrf: string;
  /** JSON request with the session cookies and `x-csrf-token`; extra headers override them. */
  request<T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse<T>>;
}

/** Cookie values a response set, by name (a later Set-Cookie of the same name wins). */
export function setCookies(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of headers.getSetCookie()) {
    const [pair] = line.split(';');
    const eq = pair!.indexOf('=');
    out[pair!.slice(0, eq).trim()] = pair!.slice(eq + 1).trim();
  }
  return out;
}

/** A client holding these session cookies. */
export function adminClient(t: { url: string }, session: string, csrf: string): AdminClient {
  const cookie = `${SESSION_COOKIE}=${session}; ${CSRF_COOKIE}=${csrf}`;
  return {
    cookie, session, csrf,
    request(method, path, body, headers) {
      return api(t, method, path, { headers: { cookie, 'x-csrf-token': csrf, ...headers }, ...(body === undefined ? {} : { body }) });
    },
  };
}

/** Signs in by POST /v1/admin/session; throws unless it answers 200. */
export async function signIn(t: { url: string }, email: string, password: string): Promise<AdminClient> {
  const res = await api(t, 'POST', '/v1/admin/session', { body: { email, password } });
  if (res.status !== 200) throw new Error(`sign-in as ${email} answered ${res.status}: ${JSON.stringify(res.body)}`);
  const cookies = setCookies(res.headers);
  const session = cookies[SESSION_COOKIE];
  const csrf = cookies[CSRF_COOKIE];
  if (!session || !csrf) throw new Error('sign-in set no session cookies');
  return adminClient(t, session, csrf);
}

/** A signed-in client together with its account. */
export type StaffClient = AdminClient & { staff: TestStaff };

/** createStaff then signIn. */
export async function staffClient(t: TestApp, opts: { role: StaffRole; storeIds?: string[]; email?: string }): Promise<StaffClient> {
  const staff = await createStaff(t, opts);
  return { ...(await signIn(t, staff.email, staff.password)), staff };
}
