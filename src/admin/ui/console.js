// Coinbridge support console: one small ES module, no framework, no build step. The server sends
// each page's static shell (<body data-page>); this fills it from the JSON API under /v1/admin.
// Everything from the API goes into the DOM as text (never innerHTML), and every state-changing
// request carries the X-CSRF-Token header.

const page = document.body.dataset.page;
const $ = (id) => document.getElementById(id);
const live = $('live');
let csrfToken = null;
let leaving = false;

// ---- small helpers -----------------------------------------------------------------------

/** h('a', { href, class, onclick }, ...children) → an element; strings become text nodes. */
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid !== null && kid !== undefined && kid !== false) el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}

function say(text) {
  live.textContent = '';
  // A fresh text node after a tick makes screen readers announce a repeated message again.
  setTimeout(() => { live.textContent = text; }, 30);
}

function cookie(name) {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return null;
}

function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

function time(iso) {
  return iso ? h('time', { datetime: iso, title: iso }, fmtTime(iso)) : '—';
}

function status(s) {
  return h('span', { class: `st st-${String(s).replace(/[^a-z_]/g, '')}` }, String(s).replace(/_/g, ' '));
}

function httpUrl(u) {
  try { const url = new URL(u, location.href); return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null; } catch { return null; }
}

function dl(rows) {
  return h('dl', null, rows.filter(Boolean).map(([k, v]) => [h('dt', null, k), h('dd', null, v === null || v === undefined || v === '' ? '—' : v)]));
}

function json(v) {
  return JSON.stringify(v, null, 2);
}

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `Request failed (${status})`);
    this.status = status;
    this.code = body?.error?.code;
    this.body = body;
  }
}

/** JSON request to the console API; on 401 (not signed in) the page goes to the sign-in page. */
async function api(method, path, body, opts = {}) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') {
    const t = csrfToken || cookie('cb_csrf');
    if (t) headers['x-csrf-token'] = t;
  }
  const res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  if (res.status !== 204) { try { data = await res.json(); } catch { /* not JSON */ } }
  if (res.status === 401 && !opts.anonymous) toSignIn();
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

async function toSignIn() {
  if (leaving) return;
  leaving = true;
  let target = '/admin/login';
  try {
    const s = await api('GET', '/v1/admin/setup', undefined, { anonymous: true });
    if (s && s.required) target = '/admin/setup';
  } catch { /* sign-in then */ }
  const here = location.pathname + location.search;
  location.replace(here === '/admin' || target === '/admin/setup' ? target : `${target}?next=${encodeURIComponent(here)}`);
}

/** Only a console path of this origin, never `//elsewhere`. */
function safeNext() {
  const next = new URLSearchParams(location.search).get('next');
  return next && /^\/admin(\/|\?|$)/.test(next) && !next.startsWith('//') ? next : '/admin';
}

/** Runs an action from a button: busy state, result in the live region, errors too. */
async function act(button, label, fn) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  say(`${label}…`);
  try {
    say(await fn());
  } catch (err) {
    if (err.status !== 401) say(`${label} failed: ${err.message}`);
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

// ---- sign-in and setup -------------------------------------------------------------------

function formError(text) {
  const p = $('form-error');
  p.textContent = text;
}

function initLogin() {
  const form = $('login');
  api('GET', '/v1/admin/setup', undefined, { anonymous: true }).then((s) => { if (s?.required) $('setup-hint').hidden = false; }, () => {});
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    formError('');
    if (!form.reportValidity()) return;
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      await api('POST', '/v1/admin/session', { email: form.email.value.trim(), password: form.password.value }, { anonymous: true });
      location.assign(safeNext());
    } catch (err) {
      button.disabled = false;
      if (err.code === 'account_locked') formError(err.message);
      else if (err.status === 401 || err.code === 'invalid_credentials') formError('That email and password do not match an account.');
      else formError(`Could not sign in: ${err.message}`);
      form.password.select();
      form.password.focus();
    }
  });
}

function initSetup() {
  const form = $('setup');
  api('GET', '/v1/admin/setup', undefined, { anonymous: true }).then((s) => {
    if (s && !s.required) $('form-error').replaceChildren('Setup is already done: an operator account exists. ', h('a', { href: '/admin/login' }, 'Sign in instead'), '.');
  }, () => {});
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    formError('');
    if (!form.reportValidity()) return;
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      await api('POST', '/v1/admin/setup', { token: form.token.value.trim(), email: form.email.value.trim(), password: form.password.value }, { anonymous: true });
      location.assign('/admin');
    } catch (err) {
      button.disabled = false;
      formError(err.code === 'setup_done' ? 'Setup is already done. Sign in instead.' : err.message);
      if (err.code === 'setup_done') setTimeout(() => location.assign('/admin/login'), 1500);
    }
  });
}

// ---- signed-in pages -----------------------------------------------------------------------

function showBanner(health) {
  const banner = $('banner');
  if (!health?.attention) { banner.hidden = true; return; }
  const stores = (health.stores || []).filter((s) => s.needsAttention);
  banner.replaceChildren(h('p', null,
    h('strong', null, 'Needs attention: '),
    stores.length ? stores.map((s, i) => [i ? '; ' : '', `${s.name} (${(s.reasons || []).join(', ') || 'see health'})`]) : 'see the health page',
    page === 'health' ? '' : [' ', h('a', { href: '/admin/health' }, 'Open health')]));
  banner.hidden = false;
}

function initChrome(meP, healthP) {
  meP.then((me) => {
    csrfToken = me.csrfToken || cookie('cb_csrf');
    $('who').textContent = `${me.email} · ${me.role}`;
    const out = $('signout');
    out.hidden = me.via === 'shopify';
    out.addEventListener('click', () => act(out, 'Signing out', async () => {
      await api('DELETE', '/v1/admin/session');
      leaving = true;
      location.assign('/admin/login');
      return 'Signed out.';
    }));
  }, () => {});
  healthP.then(showBanner, () => {});
}

// ---- search --------------------------------------------------------------------------------

const FILTERS = ['q', 'storeId', 'status', 'from', 'to'];

/** The date inputs are UTC days; the API takes instants (from inclusive, to exclusive). */
function dayStart(day, plus = 0) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day || '')) return null;
  const d = new Date(`${day}T00:00:00.000Z`);
  d.setUTCDate(d.getUTCDate() + plus);
  return d.toISOString();
}

function apiFilter(params, keys) {
  const out = new URLSearchParams();
  for (const k of keys) {
    const v = params.get(k);
    if (!v) continue;
    if (k === 'from') { const f = dayStart(v); if (f) out.set('from', f); } else if (k === 'to') { const t = dayStart(v, 1); if (t) out.set('to', t); } else out.set(k, v);
  }
  return out;
}

function resultRow(p) {
  const order = p.orderName || p.orderId || p.ref;
  return h('tr', null,
    h('td', null, time(p.createdAt)),
    h('td', null, h('a', { href: `/admin/payments/${encodeURIComponent(p.paymentId)}` }, `Order ${order}`)),
    h('td', null, p.storeName),
    h('td', null, status(p.status), p.hasFailedJobs ? [' ', h('span', { class: 'flag' }, 'failed job')] : ''),
    h('td', { class: 'num' }, `${p.amount} ${p.currency}`),
    h('td', { class: 'gw' }, p.gateway ? `${p.gateway} (${p.gatewayMode})` : '—'),
    h('td', null, p.customerEmail || '—'),
    h('td', null, h('code', null, p.ref), p.txHash ? [h('br'), h('code', { class: 'hash', title: 'Transaction hash' }, p.txHash)] : ''),
  );
}

function initSearch(storesP) {
  const form = $('search');
  const results = $('results');
  const exportLink = $('export');
  const misBtn = $('mismatch-btn');
  let params = new URLSearchParams(location.search);
  let seq = 0;

  storesP.then((d) => {
    const sel = form.storeId;
    for (const s of d.stores || []) sel.append(h('option', { value: s.id }, `${s.name} (${s.platform})`));
    sel.value = params.get('storeId') || '';
  }, () => {});

  function fillForm() {
    for (const k of FILTERS) if (k !== 'storeId' || form.storeId.querySelector(`option[value="${CSS.escape(params.get(k) || '')}"]`)) form[k].value = params.get(k) || '';
    form.failedJobs.checked = params.get('failedJobs') === 'true';
  }

  function exportHref() {
    const f = apiFilter(params, ['storeId', 'from', 'to']);
    return `/v1/admin/export.csv${f.size ? `?${f}` : ''}`;
  }

  async function run(announce) {
    const mine = ++seq;
    exportLink.href = exportHref();
    $('mismatches').hidden = true;
    const q = apiFilter(params, FILTERS);
    if (params.get('failedJobs') === 'true') q.set('failedJobs', 'true');
    q.set('limit', '50');
    results.setAttribute('aria-busy', 'true');
    try {
      const data = await api('GET', `/v1/admin/search?${q}`);
      if (mine !== seq) return;
      renderResults(data, q, announce);
    } catch (err) {
      if (mine === seq && err.status !== 401) results.replaceChildren(h('p', { class: 'err' }, `Could not search: ${err.message}`));
    } finally {
      results.removeAttribute('aria-busy');
    }
  }

  function renderResults(data, q, announce) {
    const items = data.items || [];
    if (!items.length) {
      results.replaceChildren(h('p', null, 'No payments match.'));
      if (announce) say('No payments match.');
      return;
    }
    const tbody = h('tbody', null, items.map(resultRow));
    const count = h('p', { class: 'muted', id: 'count' });
    let shown = items.length;
    const more = h('button', { type: 'button', id: 'more' }, 'Load more');
    let next = data.nextBefore;
    const setCount = () => { count.textContent = `Showing ${shown} payment${shown === 1 ? '' : 's'}, newest first${next ? '' : ' (all of them)'}.`; more.hidden = !next; };
    more.addEventListener('click', () => act(more, 'Loading more', async () => {
      const mq = new URLSearchParams(q);
      mq.set('before', next);
      const page2 = await api('GET', `/v1/admin/search?${mq}`);
      const rows = (page2.items || []).map(resultRow);
      tbody.append(...rows);
      shown += rows.length;
      next = page2.nextBefore;
      setCount();
      rows[0]?.querySelector('a')?.focus();
      return `${rows.length} more loaded.`;
    }));
    setCount();
    results.replaceChildren(
      count,
      h('div', { class: 'scroll', role: 'region', 'aria-labelledby': 't-results', tabindex: '0' },
        h('table', null,
          h('caption', { class: 'sr' }, 'Payments matching the search'),
          h('thead', null, h('tr', null, ['Created', 'Order', 'Store', 'Status', 'Amount', 'Gateway', 'Customer', 'Ref / tx hash'].map((c) => h('th', { scope: 'col' }, c)))),
          tbody)),
      more,
    );
    if (announce) say(`${items.length}${next ? ' or more' : ''} payment${items.length === 1 ? '' : 's'} found.`);
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const next = new URLSearchParams();
    for (const k of FILTERS) { const v = form[k].value.trim(); if (v) next.set(k, v); }
    if (form.failedJobs.checked) next.set('failedJobs', 'true');
    params = next;
    history.pushState(null, '', `/admin${next.size ? `?${next}` : ''}`);
    run(true);
  });
  window.addEventListener('popstate', () => { params = new URLSearchParams(location.search); fillForm(); run(true); });

  misBtn.addEventListener('click', () => act(misBtn, 'Checking for mismatches', async () => {
    const f = apiFilter(params, ['storeId', 'from', 'to']);
    const data = await api('GET', `/v1/admin/mismatches${f.size ? `?${f}` : ''}`);
    const section = $('mismatches');
    const items = data.items || [];
    const KIND = {
      store_paid_gateway_not: 'Store shows paid, gateway does not',
      gateway_paid_store_not: 'Gateway paid, store not updated',
      amount_differs: 'Amounts differ',
    };
    $('mismatch-list').replaceChildren(items.length
      ? h('div', { class: 'scroll' }, h('table', null,
        h('thead', null, h('tr', null, ['Kind', 'Payment', 'Order', 'Detail'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, items.map((m) => h('tr', null,
          h('td', null, KIND[m.kind] || m.kind),
          h('td', null, h('a', { href: `/admin/payments/${encodeURIComponent(m.paymentId)}` }, m.ref || m.paymentId)),
          h('td', null, m.orderId || '—'),
          h('td', null, typeof m.detail === 'string' ? m.detail : json(m.detail)))))))
      : h('p', null, 'No mismatches for this store and dates.'));
    section.hidden = false;
    $('t-mismatches').focus();
    return items.length ? `${items.length} mismatch${items.length === 1 ? '' : 'es'} found.` : 'No mismatches found.';
  }));

  fillForm();
  return run(false);
}

// ---- payment -------------------------------------------------------------------------------

const KIND_LABEL = { callback: 'Callback', job: 'Job' };

function eventLabel(e) {
  if (e.kind !== 'event') return KIND_LABEL[e.kind] || e.kind;
  if (e.type === 'store.write') return 'Store write';
  if (e.type === 'gateway.fallback') return 'Fallback';
  if (e.type.startsWith('gateway.')) return 'Gateway call';
  if (e.type === 'transition') return 'Transition';
  return 'Event';
}

function timelineItem(e) {
  const d = e.data && typeof e.data === 'object' ? e.data : {};
  const facts = [];
  if (e.verdict) facts.push(['Signature', e.verdict]);
  if (e.outcome) facts.push(['Outcome', e.outcome]);
  if (e.attempts && e.kind === 'job') facts.push(['Failed attempts', String(e.attempts)]);
  if (e.error) facts.push(['Error', e.error]);
  if (e.type === 'store.write' && d.reason) facts.push(['Reason', String(d.reason)]);
  if (e.type === 'store.write' && d.message) facts.push(['Error', `${d.code ? `${d.code}: ` : ''}${d.message}`]);
  if (e.type === 'gateway.fallback') facts.push(['From', String(d.from?.gateway ?? '?')], ['To', String(d.to?.gateway ?? '?')]);
  const writes = e.type === 'store.write' && Array.isArray(d.writes) ? d.writes : [];
  const label = eventLabel(e);
  return h('li', { class: `tl k-${e.kind}${e.type === 'store.write' ? ' k-write' : ''}` },
    h('div', { class: 'tl-head' },
      time(e.at), ' ', h('span', { class: 'kind' }, label), ' ', h('strong', null, e.type),
      e.fromStatus || e.toStatus ? [' ', status(e.fromStatus || '∅'), h('span', { 'aria-label': 'to' }, ' → '), status(e.toStatus || '∅')] : ''),
    e.cause ? h('p', { class: 'cause' }, e.cause) : '',
    facts.length ? h('p', { class: 'facts' }, facts.map(([k, v], i) => [i ? ' · ' : '', h('span', { class: 'k' }, `${k}: `), v])) : '',
    writes.length ? h('ul', { class: 'writes' }, writes.map((w) => h('li', null,
      h('strong', null, w.operation), ` — ${w.outcome}`,
      h('details', null, h('summary', null, `Request and response of ${w.operation}`),
        h('pre', null, `request: ${json(w.request)}\nresponse: ${json(w.response ?? null)}`))))) : '',
    e.rawBody !== undefined ? h('details', { class: 'raw' }, h('summary', null, 'Raw callback body'), h('pre', null, e.rawBody)) : '',
    e.kind === 'event' && e.type !== 'store.write' && Object.keys(d).length
      ? h('details', null, h('summary', null, `Details of ${e.type}`), h('pre', null, json(d))) : '',
  );
}

function initPayment(meP) {
  const root = $('payment');
  const id = decodeURIComponent(location.pathname.split('/')[3] || '');
  let detail = null;
  let me = null;

  const why = h('input', { id: 'why', name: 'why', type: 'text', maxlength: '500', autocomplete: 'off', 'aria-describedby': 'h-why' });
  const reverify = h('button', { type: 'button', id: 'reverify' }, 'Re-verify with gateway');
  const resync = h('button', { type: 'button', id: 'resync' }, 'Re-sync store');
  const copy = h('button', { type: 'button', id: 'copy' }, 'Copy pay link');
  const payLink = h('input', { id: 'paylink', type: 'text', readonly: true, 'aria-label': 'Pay link' });
  const reason = () => (why.value.trim() ? { reason: why.value.trim() } : {});

  reverify.addEventListener('click', () => act(reverify, 'Re-verifying', async () => {
    const r = await api('POST', `/v1/admin/payments/${encodeURIComponent(id)}/reverify`, reason());
    await refresh();
    return r.changed ? `Re-verified: status is now ${r.status}.` : `Re-verified: no change (${r.status}).`;
  }));
  resync.addEventListener('click', () => act(resync, 'Queuing a store re-sync', async () => {
    await api('POST', `/v1/admin/payments/${encodeURIComponent(id)}/resync`, reason());
    setTimeout(() => refresh().catch(() => {}), 1500);
    return 'Store re-sync queued.';
  }));
  copy.addEventListener('click', () => act(copy, 'Copying the pay link', async () => {
    const url = detail?.payment?.payUrl || '';
    try {
      await navigator.clipboard.writeText(url);
    } catch {
      payLink.focus();
      payLink.select();
      if (!document.execCommand('copy')) return 'Could not copy automatically: the link is selected, press Ctrl+C.';
    }
    return 'Pay link copied.';
  }));

  const sides = h('div', { class: 'sides' });
  const resolveArea = h('div', { id: 'resolve-area' });
  const jobs = h('div', { id: 'jobs' });
  const timeline = h('ol', { class: 'timeline', id: 'timeline' });
  const audit = h('div', { id: 'audit' });
  const heading = h('h1', { tabindex: '-1', id: 'title' }, 'Payment');
  const sub = h('p', { class: 'muted' });

  function renderSides(d) {
    const { payment: p, store: s, order: o } = d;
    const admin = o.adminUrl && httpUrl(o.adminUrl);
    const c = p.crypto;
    sides.replaceChildren(
      h('section', { class: 'card', 'aria-labelledby': 't-order' }, h('h2', { id: 't-order' }, 'Store order'), dl([
        ['Store', `${s.name} (${s.platform})`],
        ['Order', o.name || o.id],
        o.name && o.name !== o.id ? ['Order id', h('code', null, o.id)] : null,
        ['In the store admin', admin ? h('a', { href: admin, target: '_blank', rel: 'noopener noreferrer', id: 'order-link' }, `Open order ${o.name || o.id}`, h('span', { class: 'sr' }, ' (opens in a new tab)')) : 'No link for this store'],
        ['Status there', o.statusThere || 'Unknown'],
      ])),
      h('section', { class: 'card', 'aria-labelledby': 't-pay' }, h('h2', { id: 't-pay' }, 'Payment'), dl([
        ['Status', status(p.status)],
        ['Ref', h('code', null, p.ref)],
        ['Gateway', h('span', { id: 'served-by' }, `Served by ${p.gateway} (${p.mode})`)],
        p.fallback ? ['Fallback', h('span', { id: 'fallback', class: 'warn-text' }, `Fallback from ${p.fallback.fromGateway}: ${p.fallback.reason}`)] : null,
        ['Gateway payment id', p.gatewayPaymentId ? h('code', null, p.gatewayPaymentId) : null],
        ['Amount', `${p.amount} ${p.currency}`],
        c ? ['Crypto', `${c.coin || '?'}${c.network ? ` on ${c.network}` : ''}`] : null,
        c ? ['Expected', c.expected] : null,
        c ? ['Received', c.received] : null,
        ['Tx hash', p.txHash ? h('code', { class: 'hash' }, p.txHash) : null],
        ['Customer', p.customerEmail],
        ['Created', time(p.createdAt)],
        ['Updated', time(p.updatedAt)],
        ['Expires', time(p.expiresAt)],
        ['Last verified', time(p.lastVerifiedAt)],
        p.failureReason ? ['Failure', p.failureReason] : null,
      ])),
    );
  }

  function renderResolve(d) {
    const canResolve = me && (me.role === 'merchant' || me.role === 'operator');
    if (d.payment.status !== 'review') { resolveArea.replaceChildren(); return; }
    if (!canResolve) {
      resolveArea.replaceChildren(h('p', { class: 'note', id: 'resolve-readonly' }, 'This payment is waiting for review. A merchant or operator resolves it.'));
      return;
    }
    const note = h('textarea', { id: 'note', name: 'note', required: true, minlength: '3', maxlength: '1000', rows: '3', 'aria-describedby': 'h-note' });
    const submit = h('button', { type: 'submit', class: 'primary' }, 'Resolve review');
    const form = h('form', { id: 'resolve', class: 'card resolve' },
      h('h2', null, 'Resolve this review'),
      h('fieldset', null, h('legend', null, 'Outcome'),
        h('div', { class: 'check' }, h('input', { type: 'radio', name: 'to', value: 'paid', id: 'to-paid', required: true }), h('label', { for: 'to-paid' }, 'Paid — the money arrived; the order is marked paid in the store')),
        h('div', { class: 'check' }, h('input', { type: 'radio', name: 'to', value: 'cancelled', id: 'to-cancelled' }), h('label', { for: 'to-cancelled' }, 'Cancelled — not paid; refund outside Coinbridge if money arrived'))),
      h('div', { class: 'f' }, h('label', { for: 'note' }, 'Note (required)'), note,
        h('p', { class: 'hint', id: 'h-note' }, 'Why this decision. Saved with your name in the audit log.')),
      submit);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (!form.reportValidity()) return;
      const to = form.querySelector('input[name=to]:checked').value;
      act(submit, 'Resolving the review', async () => {
        const r = await api('POST', `/v1/admin/payments/${encodeURIComponent(id)}/resolve`, { to, note: note.value.trim() });
        await refresh();
        heading.focus();
        return `Review resolved: the payment is now ${r.status}.`;
      });
    });
    resolveArea.replaceChildren(form);
  }

  function renderJobs(d) {
    const list = d.jobs || [];
    const failed = list.filter((j) => j.failedAt || j.failCount > 0);
    if (!failed.length) { jobs.replaceChildren(); return; }
    jobs.replaceChildren(h('h3', null, 'Jobs with failures'), h('ul', { class: 'jobs' }, failed.map((j) => {
      const retry = h('button', { type: 'button', class: 'small' }, `Retry ${j.name}`);
      retry.addEventListener('click', () => act(retry, `Retrying ${j.name}`, async () => {
        await api('POST', `/v1/admin/jobs/${encodeURIComponent(j.id)}/retry`, reason());
        setTimeout(() => refresh().catch(() => {}), 1500);
        return `${j.name} queued to run now.`;
      }));
      return h('li', null, h('strong', null, j.name), ` — failed ${j.failCount} time${j.failCount === 1 ? '' : 's'}`,
        j.failReason ? [': ', h('span', { class: 'err-text' }, j.failReason)] : '',
        h('br'), h('span', { class: 'muted' }, 'Last failure ', time(j.failedAt), ' · next run ', j.nextRunAt ? time(j.nextRunAt) : 'not scheduled'), ' ', retry);
    })));
  }

  async function loadAudit() {
    try {
      const a = await api('GET', `/v1/admin/audit?paymentId=${encodeURIComponent(id)}`);
      const entries = a.entries || [];
      audit.replaceChildren(entries.length
        ? h('ol', { class: 'audit' }, entries.map((e) => h('li', null, time(e.at), ' ', h('strong', null, e.action), ` by ${e.email} (${e.role})`,
          e.note ? [' — ', h('q', null, e.note)] : '')))
        : h('p', { class: 'muted' }, 'No console actions on this payment yet.'));
    } catch (err) {
      if (err.status !== 401) audit.replaceChildren(h('p', { class: 'muted' }, `Audit log unavailable: ${err.message}`));
    }
  }

  async function refresh() {
    const [d] = await Promise.all([api('GET', `/v1/admin/payments/${encodeURIComponent(id)}`), loadAudit()]);
    refreshFrom(d);
  }

  const first = Promise.all([meP, api('GET', `/v1/admin/payments/${encodeURIComponent(id)}`), loadAudit()]).then(([m, d]) => {
    me = m;
    root.replaceChildren(
      heading, sub, sides,
      h('section', { class: 'card', 'aria-labelledby': 't-actions' }, h('h2', { id: 't-actions' }, 'Actions'),
        h('div', { class: 'f' }, h('label', { for: 'why' }, 'Reason (optional)'), why,
          h('p', { class: 'hint', id: 'h-why' }, 'Recorded with re-verify, re-sync and retry in the audit log.')),
        h('div', { class: 'buttons' }, reverify, resync, copy),
        h('div', { class: 'f' }, payLink), jobs),
      resolveArea,
      h('section', { 'aria-labelledby': 't-timeline' }, h('h2', { id: 't-timeline' }, 'Timeline'), h('p', { class: 'hint' }, 'Oldest first, times in UTC.'), timeline),
      h('section', { 'aria-labelledby': 't-audit' }, h('h2', { id: 't-audit' }, 'Audit log'), audit),
    );
    refreshFrom(d);
  });

  function refreshFrom(d) {
    detail = d;
    const o = d.order;
    heading.replaceChildren(`Order ${o.name || o.id} `, status(d.payment.status));
    document.title = `Order ${o.name || o.id} · Coinbridge console`;
    sub.textContent = `${d.store.name} · payment ${d.payment.ref}`;
    payLink.value = d.payment.payUrl || '';
    resync.hidden = d.store.platform === 'direct';
    renderSides(d);
    renderResolve(d);
    renderJobs(d);
    timeline.replaceChildren(...(d.timeline || []).map(timelineItem));
    if (!(d.timeline || []).length) timeline.replaceChildren(h('li', { class: 'muted' }, 'Nothing recorded yet.'));
  }

  return first.catch((err) => {
    if (err.status === 401) return;
    root.replaceChildren(h('h1', null, err.status === 404 ? 'Payment not found' : 'Could not load the payment'),
      h('p', null, err.status === 404 ? 'There is no such payment in the stores you can see.' : err.message),
      h('p', null, h('a', { href: '/admin' }, 'Back to search')));
  });
}

// ---- health ---------------------------------------------------------------------------------

function initHealth(healthP, meP) {
  const root = $('health');
  return Promise.all([healthP, meP.catch(() => null)]).then(([d, me]) => {
    const stores = d.stores || [];
    if (!stores.length) { root.replaceChildren(h('p', null, 'No stores yet.')); return; }
    const canChange = !!me && (me.role === 'merchant' || me.role === 'operator');
    const panels = [];
    root.replaceChildren(h('div', { class: 'cards' }, stores.map((s) => {
      const w = s.webhooks;
      const g = s.gateway;
      // A few stores: their gateway panels open (and load) at once; many: each on demand.
      const panel = gatewayPanel(s, canChange, stores.length <= 5);
      panels.push(panel);
      return h('section', { class: `card store${s.needsAttention ? ' attention' : ''}`, 'aria-labelledby': `s-${s.id}` },
        h('h2', { id: `s-${s.id}` }, s.name, ' ', h('span', { class: `pill ${s.needsAttention ? 'bad' : 'ok'}` }, s.needsAttention ? 'Needs attention' : 'OK')),
        h('p', { class: 'muted' }, s.platform),
        s.reasons?.length ? h('ul', { class: 'reasons' }, s.reasons.map((r) => h('li', null, r))) : '',
        dl([
          ['Webhooks', w ? `${w.health}${w.note ? ` — ${w.note}` : ''}` : 'Not used'],
          w ? ['Last delivery', time(w.lastDeliveryAt)] : null,
          ['Gateway', h('span', { id: `gw-now-${s.id}` }, g ? `${g.gateway} (${g.mode})` : 'Not connected')],
          ['Fallback', h('span', { id: `fb-now-${s.id}` }, s.fallback ? `${s.fallback.gateway} (${s.fallback.mode})` : 'None')],
          g ? ['Last successful call', time(g.lastOkAt)] : null,
          g ? ['Rejected callbacks', String(g.rejectedCallbacks)] : null,
          ['Failing jobs', s.failingJobs ? h('a', { href: `/admin?storeId=${encodeURIComponent(s.id)}&failedJobs=true` }, String(s.failingJobs)) : '0'],
        ]),
        panel.el);
    })));
    // The page is ready once the open panels have their connections.
    return Promise.all(panels.map((p) => p.loaded));
  }, (err) => {
    if (err.status !== 401) root.replaceChildren(h('p', { class: 'err' }, `Could not load health: ${err.message}`));
  });
}

// ---- store gateways (on the health page) ---------------------------------------------------------

const GATEWAYS = [['paymento', 'Paymento'], ['crypto-checkout', 'Crypto Checkout'], ['cryptonow', 'CryptoNow']];
const GATEWAY_TITLE = Object.fromEntries(GATEWAYS);
const ROLE_LABEL = { default: 'Default', fallback: 'Fallback', extra: 'Not in use' };
/** What each gateway calls the two secrets Coinbridge needs (the API's apiKey and ipnSecret). */
const KEY_LABELS = {
  paymento: ['API key', 'IPN secret'],
  'crypto-checkout': ['API key', 'Webhook secret'],
  cryptonow: ['Public key', 'Private key'],
};

function connectionLabel(c) {
  return `${GATEWAY_TITLE[c.gateway] || c.gateway} (${c.mode}) · ${String(c.id).slice(0, 8)}`;
}

/** Like act(), and the error also stays under the form that caused it. */
function formAct(button, errorEl, label, fn) {
  errorEl.textContent = '';
  return act(button, label, async () => {
    try {
      return await fn();
    } catch (err) {
      if (err.status !== 401) errorEl.textContent = err.message;
      throw err;
    }
  });
}

/**
 * One store's gateway connections with their roles; for merchants and operators also the
 * default/fallback choice and a form to connect another gateway. Loads when first opened.
 */
function gatewayPanel(store, canChange, open) {
  const sid = store.id;
  const path = `/v1/admin/stores/${encodeURIComponent(sid)}/gateways`;
  const id = (name) => `gw-${name}-${sid}`;
  let connections = [];
  let loading = null;

  const list = h('div', { class: 'gw-list', id: id('list') }, h('p', { class: 'muted' }, 'Loading…'));
  const body = h('div', null, list);
  const el = h('details', { class: 'gw-panel', id: id('panel'), open },
    h('summary', null, 'Gateway connections'), body);

  function render() {
    list.replaceChildren(connections.length
      ? h('div', { class: 'scroll' }, h('table', { class: 'gw-table' },
        h('caption', { class: 'sr' }, `Gateway connections of ${store.name}`),
        h('thead', null, h('tr', null, ['Gateway', 'Mode', 'Role'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, connections.map((c) => h('tr', { 'data-connection': c.id },
          h('td', null, GATEWAY_TITLE[c.gateway] || c.gateway, ' ', h('code', { title: c.id }, String(c.id).slice(0, 8)),
            h('br'), h('span', { class: 'muted' }, 'since ', h('time', { datetime: c.createdAt, title: fmtTime(c.createdAt) }, String(c.createdAt).slice(0, 10)))),
          h('td', null, c.mode),
          h('td', null, h('span', { class: `role role-${c.role}` }, ROLE_LABEL[c.role] || c.role)))))))
      : h('p', null, 'No gateway connected: new orders cannot be paid.'));
    const def = connections.find((c) => c.role === 'default');
    const fb = connections.find((c) => c.role === 'fallback');
    const now = $(`gw-now-${sid}`);
    if (now) now.textContent = def ? `${def.gateway} (${def.mode})` : 'Not connected';
    const fbNow = $(`fb-now-${sid}`);
    if (fbNow) fbNow.textContent = fb ? `${fb.gateway} (${fb.mode})` : 'None';
    if (choose) choose.fill(def, fb);
  }

  function load() {
    loading ??= api('GET', path).then((d) => { connections = d.connections || []; render(); }, (err) => {
      loading = null;
      if (err.status !== 401) list.replaceChildren(h('p', { class: 'err' }, `Could not load the gateways: ${err.message}`));
    });
    return loading;
  }
  el.addEventListener('toggle', () => { if (el.open) load(); });

  const choose = canChange ? chooseForm() : null;
  if (canChange) body.append(choose.form, connectForm());
  else body.append(h('p', { class: 'muted' }, 'A merchant or operator chooses and connects gateways.'));

  function chooseForm() {
    const def = h('select', { id: id('default'), name: 'defaultId', required: true, 'aria-describedby': id('h-default') });
    const fb = h('select', { id: id('fallback'), name: 'fallbackId', 'aria-describedby': id('h-fallback') });
    const error = h('p', { class: 'err', role: 'alert' });
    const save = h('button', { type: 'submit' }, 'Save choice');
    const form = h('form', { class: 'gw-form', id: id('choose'), 'aria-label': `Default and fallback gateway of ${store.name}` },
      h('h3', null, 'Which gateway serves payments'),
      h('div', { class: 'f' }, h('label', { for: def.id }, 'Default gateway'), def,
        h('p', { class: 'hint', id: id('h-default') }, 'Creates every new payment.')),
      h('div', { class: 'f' }, h('label', { for: fb.id }, 'Fallback gateway'), fb,
        h('p', { class: 'hint', id: id('h-fallback') }, 'Takes over when the default refuses or fails to create a payment.')),
      error, save);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      formAct(save, error, 'Saving the gateway choice', async () => {
        const r = await api('PUT', path, { defaultId: def.value, fallbackId: fb.value || null });
        connections = r.connections || [];
        render();
        const d = connections.find((c) => c.role === 'default');
        const f = connections.find((c) => c.role === 'fallback');
        return `Saved: ${d ? d.gateway : 'no'} default, ${f ? `${f.gateway} as fallback` : 'no fallback'}.`;
      });
    });
    return {
      form,
      fill(d, f) {
        def.replaceChildren(...connections.map((c) => h('option', { value: c.id }, connectionLabel(c))));
        fb.replaceChildren(h('option', { value: '' }, 'None'), ...connections.map((c) => h('option', { value: c.id }, connectionLabel(c))));
        def.value = d ? d.id : '';
        fb.value = f ? f.id : '';
        save.disabled = connections.length === 0;
      },
    };
  }

  function connectForm() {
    const field = (name, label, control, hint) => h('div', { class: 'f', id: id(`f-${name}`) },
      h('label', { for: control.id, id: id(`l-${name}`) }, label), control, hint ? h('p', { class: 'hint', id: id(`h-${name}`) }, hint) : '');
    const gateway = h('select', { id: id('gateway'), name: 'gateway' }, GATEWAYS.map(([v, t]) => h('option', { value: v }, t)));
    const mode = h('select', { id: id('mode'), name: 'mode', 'aria-describedby': id('h-mode') },
      h('option', { value: 'sandbox' }, 'Sandbox'), h('option', { value: 'live' }, 'Live'));
    const role = h('select', { id: id('role'), name: 'role' },
      h('option', { value: 'extra' }, 'Neither (choose later)'), h('option', { value: 'fallback' }, 'Fallback'), h('option', { value: 'default' }, 'Default'));
    // Secrets: never pre-filled, not remembered by the browser, cleared once sent.
    const apiKey = h('input', { id: id('apiKey'), name: 'apiKey', type: 'password', autocomplete: 'new-password', minlength: '8', maxlength: '500' });
    const secret = h('input', { id: id('ipnSecret'), name: 'ipnSecret', type: 'password', autocomplete: 'new-password', minlength: '8', maxlength: '500' });
    const instance = h('input', { id: id('instanceUrl'), name: 'instanceUrl', type: 'url', placeholder: 'https://pay.example.com', maxlength: '2048', 'aria-describedby': id('h-instanceUrl') });
    const error = h('p', { class: 'err', role: 'alert' });
    const submit = h('button', { type: 'submit', class: 'primary' }, 'Connect gateway');
    const keyField = field('apiKey', 'API key', apiKey);
    const secretField = field('ipnSecret', 'IPN secret', secret);
    const instanceField = field('instanceUrl', 'Instance URL', instance, 'Crypto Checkout is self-hosted: the https address of your own instance.');
    const form = h('form', { class: 'gw-form', id: id('connect'), autocomplete: 'off', 'aria-label': `Connect a gateway to ${store.name}` },
      h('h3', null, 'Connect a gateway'),
      field('gateway', 'Gateway', gateway),
      field('mode', 'Mode', mode, 'Sandbox: test payments with no keys and no crypto. Live: your gateway account’s keys.'),
      field('role', 'Use it as', role),
      instanceField, keyField, secretField, error, submit);

    function sync() {
      const live = mode.value === 'live';
      const [keyLabel, secretLabel] = KEY_LABELS[gateway.value] || KEY_LABELS.paymento;
      keyField.querySelector('label').textContent = keyLabel;
      secretField.querySelector('label').textContent = secretLabel;
      keyField.hidden = !live;
      secretField.hidden = !live;
      instanceField.hidden = !(live && gateway.value === 'crypto-checkout');
      apiKey.required = live;
      secret.required = live;
      instance.required = !instanceField.hidden;
    }
    gateway.addEventListener('change', sync);
    mode.addEventListener('change', sync);
    sync();

    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (!form.reportValidity()) return;
      const sent = { gateway: gateway.value, mode: mode.value, role: role.value };
      if (mode.value === 'live') {
        sent.apiKey = apiKey.value.trim();
        sent.ipnSecret = secret.value.trim();
        if (gateway.value === 'crypto-checkout') sent.instanceUrl = instance.value.trim();
      }
      formAct(submit, error, `Connecting ${GATEWAY_TITLE[sent.gateway]}`, async () => {
        const r = await api('POST', path, sent);
        apiKey.value = '';
        secret.value = '';
        connections = r.connections || [];
        render();
        const c = r.connection;
        return `${GATEWAY_TITLE[sent.gateway]} connected (${sent.mode})${c ? `; role: ${ROLE_LABEL[c.role] || c.role}` : ''}.`;
      });
    });
    return form;
  }

  return { el, loaded: open ? load() : Promise.resolve() };
}

// ---- start ------------------------------------------------------------------------------------

function start() {
  if (page === 'login') return initLogin();
  if (page === 'setup') return initSetup();
  // Everything a page needs is asked for at once; 401 from any of them leads to the sign-in page.
  const meP = api('GET', '/v1/admin/me');
  const healthP = api('GET', '/v1/admin/health');
  initChrome(meP, healthP);
  let done;
  if (page === 'search') done = initSearch(api('GET', '/v1/admin/stores'));
  else if (page === 'payment') done = initPayment(meP);
  else if (page === 'health') done = initHealth(healthP, meP);
  // data-ready and the performance mark tell tests (and curious people) when the page has its data.
  Promise.resolve(done).catch(() => {}).finally(() => {
    performance.mark('console-ready');
    document.body.setAttribute('data-ready', 'true');
  });
}

start();
