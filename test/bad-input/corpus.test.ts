import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CORPUS_SEED, MARK, bodyCases, headerCases, pathValues, prototypeSnapshot, queryCases, rawHeaderCases, rngFor, type BodyCase, type RawCase,
} from './corpus.ts';
import {
  fillPath, leakedSecrets, loadEndpoints, recordWrites, sendFetch, sendRaw, startWorld,
  type Answer, type AuthKind, type Endpoint, type OutgoingRequest, type World, type Write,
} from './endpoints.ts';

/**
 * The generated corpus against every endpoint of openapi.yaml, once with each valid credential
 * the endpoint takes and once without: never a 5xx, never a write to the database, never a
 * polluted prototype or an injected response header, and every refusal a 4xx in the shape the
 * endpoint documents (`{"error": {"code", "message"}}` unless it documents HTML, or it is a
 * sandbox gateway answering in that gateway's own shape).
 *
 * Writes that are not "storing" a refusal, and so are allowed (each only where named):
 * - gateway_connections.rejected_callbacks on /ipn/…: the documented per-connection counter of
 *   callbacks refused for their signature ("nothing stored except a rejected-attempt counter").
 * - staff_users.failed_logins/locked_until on POST /v1/admin/session: the sign-in lockout counter.
 * - A Shopify or WooCommerce webhook whose signature is valid is the platform speaking: it is
 *   acknowledged and kept in that platform's inbox with its job (WooCommerce disables a webhook
 *   whose deliveries are refused), and WooCommerce's last_webhook_at moves.
 * - GET /v1/admin/export.csv answered 200 is audited (documented).
 * - POST /sandbox/paymento/v1/payment/settings with the account's key: see allowedWrite.
 */

const { endpoints, unclassified } = loadEndpoints();
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);
/** Without credentials, most requests stop at the authentication check: a seeded sample is enough there. */
const UNAUTHENTICATED_SAMPLE = 14;

interface Probe {
  label: string;
  pathValues?: Record<string, string>;
  /** Literal path (dot segments) that fetch would normalise: goes over a raw socket. */
  rawPath?: boolean;
  query?: string;
  headers?: Record<string, string>;
  replacesAuth?: boolean;
  body?: BodyCase;
  raw?: RawCase;
  /** A Content-Length far above every body limit, with a tiny body behind it. */
  declaredHuge?: boolean;
}

/** `first`: the endpoint's first way in, which alone gets the raw header bytes (Node's parser refuses most before any route). */
function probesFor(ep: Endpoint, kind: AuthKind | 'none', first: boolean): Probe[] {
  const rng = rngFor(`${ep.id} ${kind}`);
  const probes: Probe[] = [];
  for (const param of ep.pathParams) {
    for (const v of pathValues(rng)) probes.push({ label: `{${param}} ${v.label}`, pathValues: { [param]: v.encoded }, ...(v.raw ? { rawPath: true } : {}) });
  }
  for (const q of queryCases(rng, ep.queryParams)) probes.push({ label: `query ${q.label}`, query: q.query });
  for (const h of headerCases(rng)) probes.push({ label: `header ${h.label}`, headers: h.headers, ...(h.replacesAuth ? { replacesAuth: true } : {}) });
  for (const r of rawHeaderCases(rng)) if (first || kind === 'none') probes.push({ label: `raw ${r.label}`, raw: r });
  if (BODY_METHODS.has(ep.method)) {
    for (const b of bodyCases(rng, ep.body, ep.bodyRequired)) probes.push({ label: `body ${b.label}`, body: b });
    probes.push({ label: 'declared 6 MiB body', declaredHuge: true });
  }
  if (kind !== 'none' || ep.auth.length === 0) return probes;
  // Seeded sample without credentials (the same seed gives the same sample).
  const sample: Probe[] = [];
  const pool = [...probes];
  while (sample.length < UNAUTHENTICATED_SAMPLE && pool.length) sample.push(pool.splice(rng.int(pool.length), 1)[0]!);
  return sample;
}

/** A body that no endpoint accepts (they all take objects), for probes about something else (path, query, headers). */
function defaultBody(ep: Endpoint): BodyCase | undefined {
  return BODY_METHODS.has(ep.method) ? { label: 'corpus array', body: Buffer.from(`[{"corpus":"${MARK}"}]`), contentType: 'application/json' } : undefined;
}

/**
 * Where a 401 despite a valid credential is the endpoint's own design: the WooCommerce webhook
 * answers an unknown store like a bad signature; the Shopify library checks the HMAC over the body
 * decoded as UTF-8 text, so an empty body or bytes that are not UTF-8 never verify (Shopify only
 * sends UTF-8 JSON).
 */
function expectedAuthRefusal(ep: Endpoint, probe: Probe): boolean {
  if (ep.path === '/woocommerce/webhooks/{storeId}') return probe.pathValues?.storeId !== undefined;
  if (ep.path === '/shopify/webhooks' && probe.body) {
    const bytes = probe.body.body ?? Buffer.alloc(0);
    return bytes.length === 0 || !Buffer.from(bytes.toString('utf8')).equals(bytes);
  }
  return false;
}

function allowedWrite(ep: Endpoint, kind: AuthKind | 'none', status: number, w: Write): boolean {
  if (w.table === 'gateway_connections' && w.op === 'UPDATE' && w.detail === 'rejected_callbacks') return ep.path.startsWith('/ipn/');
  if (w.table === 'staff_users' && w.op === 'UPDATE' && /^(failed_logins|locked_until)(,(failed_logins|locked_until))*$/.test(w.detail)) return ep.id === 'POST /v1/admin/session';
  if (status === 200 && kind === 'shopifyWebhook') return (w.table === 'shopify_webhook_inbox' && w.op === 'INSERT') || (w.table === 'agenda_jobs' && w.op === 'INSERT' && w.detail === 'job=shopify.webhook');
  if (status === 200 && kind === 'wooWebhook') {
    return (w.table === 'woocommerce_webhook_inbox' && w.op === 'INSERT') || (w.table === 'agenda_jobs' && w.op === 'INSERT' && w.detail === 'job=woocommerce.webhook')
      || (w.table === 'woocommerce_stores' && w.op === 'UPDATE' && w.detail === 'last_webhook_at');
  }
  if (status === 200 && ep.id === 'GET /v1/admin/export.csv') return w.table === 'admin_audit' && w.op === 'INSERT';
  // Paymento's published settings body has only optional, nullable fields and its API ignores
  // unknown members, so any JSON object from the account holder is a settings write there.
  if (status === 200 && kind === 'sandboxPaymento' && ep.id === 'POST /sandbox/paymento/v1/payment/settings') {
    return w.table === 'sandbox_accounts' && w.op === 'UPDATE' && /^((ipn_url|ipn_method)(,|$))*$/.test(w.detail);
  }
  return false;
}

/** Whether a 4xx answer has the shape the endpoint documents; undefined when it does. */
function shapeProblem(ep: Endpoint, ans: Answer, leftTheRoute: boolean): string | undefined {
  const type = ans.headers['content-type'] ?? '';
  const documented = ep.responses[String(ans.status)];
  if (documented?.html && type.startsWith('text/html')) return undefined;
  // Literal dot segments may leave the route for the router's own 404 (the JSON envelope).
  if (documented?.html && !leftTheRoute) return `documented as HTML, got ${type}`;
  let body: any;
  try { body = JSON.parse(ans.text); } catch { /* judged below */ }
  if (ep.path.startsWith('/sandbox/')) {
    // The sandbox plays each gateway, errors included; its pay page is a page for people.
    if (leftTheRoute && typeof body?.error?.code === 'string') return undefined;
    if (ep.method === 'GET' && ep.path.endsWith('/gateway') && type.startsWith('text/html')) return undefined;
    const gatewayShape = body && typeof body === 'object'
      && ((body.success === false && (typeof body.message === 'string' || typeof body.error === 'string'))
        || (typeof body.error?.code === 'string' && typeof body.error?.message === 'string'));
    return gatewayShape ? undefined : `not an error in the gateway's shape: ${type} ${ans.text.slice(0, 120)}`;
  }
  if (!type.startsWith('application/json')) return `not JSON: ${type} ${ans.text.slice(0, 120)}`;
  const error = body?.error;
  if (!error || typeof error.code !== 'string' || !/^[a-z][a-z0-9_]*$/.test(error.code)) return `no error.code: ${ans.text.slice(0, 160)}`;
  if (typeof error.message !== 'string' || error.message.length < 10) return `no error.message for people: ${ans.text.slice(0, 160)}`;
  if (/DatabaseError|\.ts:\d+|\n\s+at |SELECT |INSERT |syntax error/.test(error.message)) return `internals in the message: ${error.message.slice(0, 160)}`;
  return undefined;
}

describe('bad-input corpus: every endpoint, with each credential it takes and without', { timeout: 170_000 }, () => {
  let w: World;
  let writes: Awaited<ReturnType<typeof recordWrites>>;
  let prototype0: string[];
  let counts0: Record<string, number>;
  let requests = 0;

  before(async () => {
    w = await startWorld({ shopify: true, woo: true });
    writes = await recordWrites(w.t);
    counts0 = await writes.counts();
    prototype0 = prototypeSnapshot();
  });
  after(() => w?.close());

  it('openapi.yaml says how every endpoint is entered', () => {
    assert.deepEqual(unclassified, [], 'add these to PUBLIC or AUTH_BY_PATH in endpoints.ts (or document their security)');
    assert.ok(endpoints.length >= 70, `only ${endpoints.length} endpoints read from openapi.yaml`);
  });

  async function send(ep: Endpoint, kind: AuthKind | 'none', probe: Probe): Promise<{ ans: Answer; parserRefused: boolean }> {
    const values = { ...w.fixturePath(ep, kind), ...probe.pathValues };
    const target = fillPath(ep.path, values) + (probe.query === undefined ? '' : `?${probe.query}`);
    const bodyCase = probe.body ?? defaultBody(ep);
    const req: OutgoingRequest = { method: ep.method, target, body: probe.declaredHuge ? Buffer.from('{}') : bodyCase?.body };
    const auth = kind === 'none' ? {} : w.authHeaders(kind, req);
    const contentType: Record<string, string> = bodyCase?.contentType && req.body ? { 'content-type': bodyCase.contentType } : {};
    const headers = probe.replacesAuth ? { ...contentType, ...auth, ...probe.headers } : { ...contentType, ...probe.headers, ...auth };
    if (!probe.raw && !probe.rawPath && !probe.declaredHuge) return { ans: await sendFetch(w.t.url, req, headers), parserRefused: false };
    const length = probe.declaredHuge ? 6 * 1024 * 1024 : req.body?.length ?? 0;
    const head = [`${ep.method} ${target} HTTP/1.1`, `Host: ${new URL(w.t.url).host}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      ...(probe.raw?.lines ?? []), `Content-Length: ${length}`, 'Connection: close'];
    const bytes = Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), req.body ?? Buffer.alloc(0)]);
    return { ans: await sendRaw(w.t.url, bytes), parserRefused: probe.raw?.parserRefuses ?? false };
  }

  for (const ep of endpoints) {
    it(ep.id, async () => {
      const problems: string[] = [];
      for (const kind of [...ep.auth, 'none'] as const) {
        for (const probe of probesFor(ep, kind, kind === (ep.auth[0] ?? 'none'))) {
          const where = `[${kind}] ${probe.label}`;
          let sent: { ans: Answer; parserRefused: boolean };
          try {
            sent = await send(ep, kind, probe);
          } catch (err) {
            problems.push(`${where}: no answer (${(err as Error).message})`);
            continue;
          }
          requests++;
          const { ans, parserRefused } = sent;
          if (ans.status >= 500) problems.push(`${where}: ${ans.status} ${ans.text.slice(0, 200)}`);
          // With a valid credential the corpus must get past authentication, or it tests nothing there.
          if (kind !== 'none' && ans.status === 401 && !probe.replacesAuth && !parserRefused && !expectedAuthRefusal(ep, probe)) {
            problems.push(`${where}: the credential did not get it past authentication (${ans.text.slice(0, 160)})`);
          }
          if (parserRefused && ans.status !== 400 && ans.status !== 431) problems.push(`${where}: expected Node's parser to refuse it, got ${ans.status}`);
          if (ans.status >= 400 && ans.status < 500 && !parserRefused) {
            const shape = shapeProblem(ep, ans, probe.rawPath === true);
            if (shape) problems.push(`${where}: ${ans.status} ${shape}`);
          }
          const injected = Object.entries(ans.headers).filter(([k, v]) => k.includes(MARK) || (k.startsWith('set-cookie') && v.includes(MARK)));
          if (injected.length) problems.push(`${where}: injected response header ${JSON.stringify(injected)}`);
          const stored = (await writes.since()).filter((x) => !allowedWrite(ep, kind, ans.status, x));
          if (stored.length) problems.push(`${where}: answered ${ans.status} and wrote ${stored.map((x) => `${x.op} ${x.table}${x.detail ? ` (${x.detail})` : ''}`).join(', ')}`);
          const prototype = prototypeSnapshot();
          if (prototype.join() !== prototype0.join()) {
            problems.push(`${where}: prototype polluted: ${prototype.filter((p) => !prototype0.includes(p)).join(', ')}`);
            prototype0 = prototype;
          }
        }
      }
      assert.deepEqual(problems, [], `seed ${CORPUS_SEED}`);
    });
  }

  // The query corpus changes one parameter at a time, so it never reaches the redirects that
  // echo input (they need every other parameter valid): these do, with CR/LF in the echoed part.
  it('redirects that echo the request carry no injected header', async () => {
    const crlf = `%0d%0aSet-Cookie:%20${MARK}=1%0d%0aX-${MARK}:%201`;
    const claimHash = '0'.repeat(64);
    const answers = [
      await sendFetch(w.t.url, { method: 'GET', target: `/woocommerce/connect?store_url=${encodeURIComponent(w.woo!.emu.origin)}&claim_hash=${claimHash}&return_url=${encodeURIComponent(`${w.woo!.emu.origin}/wp-admin/`)}${crlf}`, body: undefined }, {}),
      await sendFetch(w.t.url, { method: 'GET', target: `/woocommerce/connect?store_url=${encodeURIComponent(w.woo!.emu.origin)}${crlf}&claim_hash=${claimHash}`, body: undefined }, {}),
      await sendFetch(w.t.url, { method: 'GET', target: `/shopify/install?shop=${w.shopify!.shop}&client_id=${w.shopify!.app.clientId}${crlf}`, body: undefined }, {}),
    ];
    for (const ans of answers) {
      assert.ok(ans.status < 500, `${ans.status} ${ans.text.slice(0, 200)}`);
      assert.deepEqual(Object.entries(ans.headers).filter(([k, v]) => k.includes(MARK) || (k.startsWith('set-cookie') && v.includes(MARK))), []);
      assert.doesNotMatch(ans.headers.location ?? '', /[\r\n]/);
    }
    assert.equal(answers[0]!.status, 302, 'the connect redirect was reached');
    assert.equal(answers[1]!.status, 400, 'a store URL with CR/LF in it is not a URL');
    // Starting one connect is what these requests rightly did; nothing else was written.
    assert.deepEqual((await writes.since()).map((x) => `${x.op} ${x.table}`), ['INSERT woocommerce_connects']);
  });

  it('row counts: only the tables named above changed', async () => {
    const counts = await writes.counts();
    const mayGrow = new Set(['shopify_webhook_inbox', 'woocommerce_webhook_inbox', 'agenda_jobs', 'admin_audit', 'woocommerce_connects']);
    const changed = Object.keys(counts).filter((n) => !mayGrow.has(n) && counts[n] !== counts0[n]).map((n) => `${n}: ${counts0[n]} → ${counts[n]}`);
    assert.deepEqual(changed, []);
    assert.ok(requests > 3000, `only ${requests} requests were sent`);
  });

  it('the logs of the whole run carry no planted secret', () => {
    const text = w.logText();
    assert.match(text, /Shopify webhook refused/, 'the app logged refusals, so the search below is not vacuous');
    assert.deepEqual(leakedSecrets(text, w.planted()), []);
  });
});
