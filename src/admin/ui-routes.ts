import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import Router from '@koa/router';
import type Koa from 'koa';
import { sendStaticAsset } from '../http/static-asset.ts';

/**
 * The support console's pages. Every page is the same small server-rendered shell (its static
 * forms and landmarks), under a strict nonce CSP, plus one vanilla ES module and one stylesheet
 * from `/admin/assets/`. The module reads the page kind from `<body data-page>` and fills the
 * page from the JSON API under /v1/admin; nothing here reads the session: a signed-out visitor
 * gets the shell, the module's first API call answers 401 and it goes to the sign-in page.
 */

export const UI_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'ui');

/** The only files ever served (no request path is joined into a file path). */
const ASSETS: Record<string, string> = {
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
};

interface Asset { mtimeMs: number; size: number; type: string; body: Buffer; gzip: Buffer; hash: string }

type PageKind = 'login' | 'setup' | 'search' | 'payment' | 'health';

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);

/** Where the Shopify admin frames embedded apps from. */
const SHOPIFY_FRAME_ANCESTORS = 'https://admin.shopify.com https://*.myshopify.com';

export function consoleCsp(nonce: string, frameAncestors = "'none'"): string {
  return [
    "default-src 'none'", `script-src 'nonce-${nonce}'`, "style-src 'self'", "connect-src 'self'", "img-src 'self' data:",
    "form-action 'self'", "base-uri 'none'", `frame-ancestors ${frameAncestors}`,
  ].join('; ');
}

export function adminUiRoutes(deps: { publicUrl: string }): Router {
  void deps; // links are relative; the public URL is not needed to render the shell
  const cache = new Map<string, Asset>();

  async function load(name: string): Promise<Asset | undefined> {
    const type = ASSETS[name];
    if (!type) return undefined;
    const file = path.join(UI_DIR, name);
    const stat = await fs.stat(file).catch(() => undefined);
    if (!stat?.isFile()) return undefined;
    const cached = cache.get(name);
    if (cached && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) return cached;
    const body = await fs.readFile(file);
    const asset: Asset = {
      mtimeMs: stat.mtimeMs, size: stat.size, type, body, gzip: zlib.gzipSync(body, { level: 9 }),
      hash: crypto.createHash('sha256').update(body).digest('base64url').slice(0, 16),
    };
    cache.set(name, asset);
    return asset;
  }

  async function page(ctx: Koa.Context, kind: PageKind): Promise<void> {
    const [js, css] = await Promise.all([load('console.js'), load('console.css')]);
    const nonce = crypto.randomBytes(18).toString('base64');
    // Signed-in pages may sit inside the Shopify admin (the embedded flow lands on /admin and
    // navigates within its frame). Only a same-origin navigation into a frame gets that: a
    // foreign page framing the console directly sends Sec-Fetch-Site: cross-site and is refused.
    const embedded = kind !== 'login' && kind !== 'setup'
      && ctx.get('sec-fetch-dest') === 'iframe' && ctx.get('sec-fetch-site') === 'same-origin';
    ctx.set('Content-Security-Policy', consoleCsp(nonce, embedded ? SHOPIFY_FRAME_ANCESTORS : "'none'"));
    ctx.set('Cache-Control', 'no-store');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'same-origin');
    ctx.vary('Sec-Fetch-Dest');
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = renderShell(kind, nonce, { js: js?.hash ?? '0', css: css?.hash ?? '0' });
  }

  const router = new Router();
  router.get('/admin', (ctx) => page(ctx, 'search'));
  router.get('/admin/login', (ctx) => page(ctx, 'login'));
  router.get('/admin/setup', (ctx) => page(ctx, 'setup'));
  router.get('/admin/health', (ctx) => page(ctx, 'health'));
  router.get('/admin/payments/:id', (ctx) => page(ctx, 'payment'));
  router.get('/admin/assets/:file', async (ctx) => {
    const asset = await load(ctx.params.file!);
    if (!asset) return; // 404 in the usual envelope
    // Pages link assets with ?v={hash}: that exact version may be cached for good.
    ctx.set('Cache-Control', ctx.query.v === asset.hash ? 'public, max-age=31536000, immutable' : 'no-cache');
    sendStaticAsset(ctx, { etag: asset.hash, type: asset.type, body: asset.body, gzip: asset.gzip });
  });
  return router;
}

const TITLES: Record<PageKind, string> = {
  login: 'Sign in', setup: 'First-run setup', search: 'Payments', payment: 'Payment', health: 'Health',
};

const STATUSES = ['created', 'pending', 'confirming', 'underpaid', 'paid', 'overpaid', 'paid_late', 'expired', 'cancelled', 'review', 'failed', 'initiating'];

function field(id: string, label: string, control: string, help = ''): string {
  return `<div class="f"><label for="${id}">${label}</label>${control}${help ? `<p class="hint" id="h-${id}">${help}</p>` : ''}</div>`;
}

function body(kind: PageKind): string {
  switch (kind) {
    case 'login':
      return `<h1>Sign in to the support console</h1>
<form id="login" class="card narrow" novalidate>
${field('email', 'Email', '<input id="email" name="email" type="email" autocomplete="username" required>')}
${field('password', 'Password', '<input id="password" name="password" type="password" autocomplete="current-password" required>')}
<p class="err" id="form-error" role="alert"></p>
<button class="primary" type="submit">Sign in</button>
</form>
<p class="hint" id="setup-hint" hidden>No operator account exists yet: <a href="/admin/setup">run the first-time setup</a>.</p>`;
    case 'setup':
      return `<h1>First-run setup</h1>
<p>Create the operator account with the one-time setup token (the <code>ADMIN_SETUP_TOKEN</code> setting, or the token Coinbridge printed in its log at start-up).</p>
<form id="setup" class="card narrow" novalidate>
${field('token', 'Setup token', '<input id="token" name="token" type="password" autocomplete="off" required aria-describedby="h-token">', 'Shown once in the log as “admin setup token”.')}
${field('email', 'Operator email', '<input id="email" name="email" type="email" autocomplete="username" required>')}
${field('password', 'Password', '<input id="password" name="password" type="password" autocomplete="new-password" minlength="12" required aria-describedby="h-password">', 'At least 12 characters.')}
<p class="err" id="form-error" role="alert"></p>
<button class="primary" type="submit">Create operator</button>
</form>`;
    case 'search': {
      const statuses = STATUSES.map((s) => `<option value="${s}">${s.replace('_', ' ')}</option>`).join('');
      return `<h1>Payments</h1>
<form id="search" class="card filters" role="search" aria-label="Find payments">
<div class="f grow"><label for="q">Search</label><input id="q" name="q" type="search" autocomplete="off" aria-describedby="h-q">
<p class="hint" id="h-q">Order number, payment ref or id, gateway payment id, tx hash or customer email.</p></div>
${field('storeId', 'Store', '<select id="storeId" name="storeId"><option value="">All stores</option></select>')}
${field('status', 'Status', `<select id="status" name="status"><option value="">Any status</option>${statuses}</select>`)}
${field('from', 'From (UTC)', '<input id="from" name="from" type="date">')}
${field('to', 'To (UTC, inclusive)', '<input id="to" name="to" type="date">')}
<div class="f check"><input id="failedJobs" name="failedJobs" type="checkbox" value="true"><label for="failedJobs">Only with failed jobs</label></div>
<div class="f actions"><button class="primary" type="submit">Search</button> <a id="reset" href="/admin">Clear</a></div>
</form>
<section aria-labelledby="t-results">
<div class="bar"><h2 id="t-results">Results</h2><a id="export" class="button" href="/v1/admin/export.csv" download>Export CSV</a>
<button id="mismatch-btn" type="button" aria-controls="mismatches">Check for mismatches</button></div>
<p class="hint">The export and the mismatch report use this filter’s store and dates.</p>
<div id="results"><p class="muted">Loading…</p></div>
</section>
<section id="mismatches" aria-labelledby="t-mismatches" hidden><h2 id="t-mismatches" tabindex="-1">Mismatch report</h2><div id="mismatch-list"></div></section>`;
    }
    case 'payment':
      return '<div id="payment"><h1>Payment</h1><p class="muted">Loading…</p></div>';
    case 'health':
      return '<h1>Health</h1><div id="health"><p class="muted">Loading…</p></div>';
  }
}

export function renderShell(kind: PageKind, nonce: string, versions: { js: string; css: string }): string {
  const n = esc(nonce);
  const signedIn = kind !== 'login' && kind !== 'setup';
  const nav = signedIn
    ? `<nav aria-label="Console"><a href="/admin"${kind === 'search' ? ' aria-current="page"' : ''}>Payments</a><a href="/admin/health"${kind === 'health' ? ' aria-current="page"' : ''}>Health</a></nav>
<div class="who"><span id="who"></span><button id="signout" type="button" hidden>Sign out</button></div>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex">
<title>${TITLES[kind]} · Coinbridge console</title>
<link rel="stylesheet" href="/admin/assets/console.css?v=${esc(versions.css)}">
<script type="module" src="/admin/assets/console.js?v=${esc(versions.js)}" nonce="${n}"></script>
</head>
<body data-page="${kind}">
<a class="skip" href="#main">Skip to content</a>
<header class="top"><a class="brand" href="/admin">Coinbridge console</a>${nav}</header>
<div id="banner" class="banner" role="region" aria-label="Attention" hidden></div>
<main id="main" tabindex="-1">
${body(kind)}
</main>
<p id="live" class="live" role="status" aria-live="polite"></p>
<noscript><p class="card">The console needs JavaScript.</p></noscript>
</body>
</html>
`;
}
