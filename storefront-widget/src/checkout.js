// <coinbridge-checkout ref [data-standalone] [data-open="true"] [lang]>. Standalone (pay page) fills the
// page; embedded, a compact card whose "Open payment" opens the full view in a modal <dialog>. Open
// shadow root styled by checkout.css; DOM APIs only (no innerHTML), no style attributes (CSP).
import { pickLocale, t } from './i18n.js';
import { money, coins, clock } from './format.js';
import { isNewer, view, safeUrl, remaining, skewOf, SETTLED, PAID } from './state.js';
import { live } from './live.js';

/** Coinbridge's base URL: this module is served at {base}/widget/checkout.js. */
const BASE = new URL('..', import.meta.url).href.replace(/\/$/, '');
const SVG = 'http://www.w3.org/2000/svg';
const COLOR = /^#([0-9a-f]{3}){1,2}$/i;
const EMAIL = /^[^\s@<>"]+@[^\s@<>"]+$/;

/** Element with attributes (true → '', null/false → none) and children. */
const h = (tag, attrs = {}, ...kids) => {
  const el = document.createElement(tag);
  for (const k in attrs) if (attrs[k] != null && attrs[k] !== false) el.setAttribute(k, attrs[k] === true ? '' : attrs[k]);
  el.append(...kids);
  return el;
};
/** Sets text only when it changes, so live regions announce each new text once. */
const text = (el, s) => { if (el.textContent !== s) el.textContent = s; };
const show = (el, on) => { el.hidden = !on; };

class CoinbridgeCheckout extends HTMLElement {
  static get observedAttributes() { return ['lang']; }

  constructor() {
    super();
    /** @type {any} the checkout shown (never replaced by an older version) */
    this.c = null;
    this.skew = 0;
    this.failed = false;
    this.timeUp = false;
    this.sawPaid = false;
    this.qrFor = '';
    this.stop = null;
    this.tick = 0;
    this.redirect = 0;
    /** @type {Record<string, any>} */
    this.el = {};
  }

  connectedCallback() {
    if (!this.shadowRoot) this.build();
    if (!this.tick) this.tick = setInterval(() => this.onTick(), 1000);
    if (this.c) this.follow();
    else this.load();
  }

  disconnectedCallback() {
    clearInterval(this.tick);
    clearTimeout(this.redirect);
    this.tick = this.redirect = 0;
    if (this.stop) this.stop();
    this.stop = null;
  }

  attributeChangedCallback() { if (this.shadowRoot) this.render(); }

  get ref() { return this.getAttribute('ref') || ''; }
  get standalone() { return this.hasAttribute('data-standalone'); }

  /** Builds the shadow DOM once; render() only updates text, links and `hidden`. */
  build() {
    const sh = this.attachShadow({ mode: 'open' });
    const el = this.el, sa = this.standalone;
    const link = h('link', { rel: 'stylesheet', href: `${BASE}/widget/checkout.css` });
    // Hidden until the stylesheet arrives (no flash of unstyled content), at most 3 s.
    const root = (el.root = h('div', { class: 'cb', 'data-status': 'loading', 'data-mode': sa ? 'standalone' : 'embedded', hidden: true }));
    const reveal = () => { root.hidden = false; };
    link.addEventListener('load', reveal);
    link.addEventListener('error', reveal);
    setTimeout(reveal, 3000);

    const copy = (name, cb) => (el[name] = h('button', { type: 'button', class: 'copy full', 'data-cb': cb }));
    el.view = h('section', { class: 'view', 'aria-labelledby': 'cb-title' },
      h('header', { class: 'head' },
        (el.logo = h('img', { class: 'logo', alt: '', hidden: true })),
        (el.title = h(sa ? 'h1' : 'h2', { id: 'cb-title', class: 'store' }))),
      h('div', { class: 'main' },
        h('div', { class: 'due' },
          (el.amountLabel = h('p', { class: 'label' })),
          h('p', { class: 'amount' }, (el.amount = h('span', { 'data-cb': 'amount' })), copy('copyAmount', 'copy-amount'))),
        (el.cryptoBox = h('div', { class: 'crypto full', hidden: true },
          (el.cryptoLabel = h('p', { class: 'label' })),
          h('p', { class: 'camount' }, (el.crypto = h('span', { 'data-cb': 'crypto' })), copy('copyCrypto', 'copy-crypto')),
          (el.net = h('p', { class: 'net', 'data-cb': 'network' })))),
        h('div', { class: 'live', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' },
          (el.status = h('p', { class: 'status', 'data-cb': 'status' })),
          (el.missing = h('p', { class: 'missing', 'data-cb': 'missing', hidden: true })),
          (el.note = h('p', { class: 'note', hidden: true }))),
        (el.clockBox = h('p', { class: 'clock full', hidden: true },
          (el.clockLabel = h('span')), ' ', (el.clock = h('span', { class: 'time', 'data-cb': 'countdown', role: 'timer' })))),
        (el.contact = h('p', { class: 'contact full', hidden: true },
          (el.contactText = h('span')), ' ', (el.email = h('a', { 'data-cb': 'contact', hidden: true })))),
        h('div', { class: 'actions full' },
          (el.pay = h('a', { class: 'btn', 'data-cb': 'pay', target: '_blank', rel: 'noopener', hidden: true })),
          (el.back = h('a', { class: 'btn alt', 'data-cb': 'back', hidden: true })))),
      (el.qr = h('figure', { class: 'qr full', 'data-cb': 'qr', hidden: true },
        (el.qrBox = h('div', { class: 'qrbox' })), (el.scan = h('figcaption')))),
      (el.notice = h('p', { class: 'sr', 'aria-live': 'polite', 'data-cb': 'notice' })));

    if (sa) root.append(h('div', { class: 'panel' }, el.view));
    else {
      el.view.classList.add('compact');
      el.slot = h('div', { class: 'slot' }, el.view);
      el.open = h('button', { type: 'button', class: 'btn', 'data-cb': 'open', hidden: true });
      el.close = h('button', { type: 'button', class: 'close', 'data-cb': 'close' });
      el.dslot = h('div');
      el.dialog = h('dialog', { 'aria-labelledby': 'cb-title' }, h('div', { class: 'dlg' }, h('div', { class: 'bar' }, el.close), el.dslot));
      root.append(h('div', { class: 'card' }, el.slot, el.open), el.dialog);
      el.open.addEventListener('click', () => this.openModal());
      el.close.addEventListener('click', () => el.dialog.close());
      el.dialog.addEventListener('click', (e) => { if (e.target === el.dialog) el.dialog.close(); }); // backdrop
      el.dialog.addEventListener('close', () => {
        el.view.classList.add('compact');
        el.slot.append(el.view);
        el.open.focus();
      });
    }
    el.copyAmount.addEventListener('click', () => this.c && this.copy(el.copyAmount, this.c.amount));
    el.copyCrypto.addEventListener('click', () => this.c && this.c.crypto && this.copy(el.copyCrypto, this.c.crypto.expected));
    sh.append(link, root);
    this.render();
  }

  /** First state: the pay page's embedded JSON, else one fetch; then live updates. */
  async load() {
    const init = this.standalone && document.getElementById('coinbridge-initial');
    if (init) {
      try {
        const d = JSON.parse(init.textContent || '');
        if (d && d.ref === this.ref) this.apply(d);
      } catch { /* fetch instead */ }
    }
    if (!this.c) {
      try {
        const r = await fetch(`${BASE}/v1/checkout/${encodeURIComponent(this.ref)}`, { headers: { accept: 'application/json' }, cache: 'no-store' });
        if (r.status === 404 || r.status === 400) { this.failed = true; this.render(); return; }
        if (r.ok) this.apply(await r.json());
      } catch { /* live updates will retry */ }
    }
    if (!this.c) { this.failed = true; this.render(); }
    if (this.isConnected) this.follow();
  }

  /** Starts live updates unless the checkout is settled. */
  follow() {
    if (this.stop || (this.c && SETTLED.includes(this.c.status))) return;
    this.stop = live(BASE, this.ref, (d) => this.apply(d));
  }

  /** Shows checkout `d` if it is newer than the one shown. */
  apply(d) {
    if (!isNewer(this.c, d)) return;
    const first = !this.c;
    if (!first && !PAID.includes(this.c.status) && PAID.includes(d.status)) this.sawPaid = true;
    this.c = d;
    this.failed = false;
    this.skew = skewOf(d.serverTime, Date.now());
    this.render();
    if (first && !this.standalone && this.getAttribute('data-open') === 'true') this.openModal();
  }

  openModal() {
    const el = this.el;
    if (!el.dialog || el.dialog.open) return;
    el.view.classList.remove('compact');
    el.dslot.append(el.view);
    el.dialog.showModal();
    (el.pay.hidden ? el.close : el.pay).focus();
  }

  left() { return this.c ? remaining(this.c.expiresAt, Date.now(), this.skew) : Infinity; }

  onTick() {
    if (!this.c) return;
    const left = this.left();
    if (Number.isFinite(left)) text(this.el.clock, clock(left));
    if ((left <= 0) !== this.timeUp) this.render();
  }

  render() {
    const el = this.el, c = this.c;
    const loc = pickLocale(this.getAttribute('lang'), navigator.languages, c && c.store && c.store.locale);
    const T = (k, v) => t(loc.lang, k, v);
    el.root.lang = loc.lang;
    text(el.amountLabel, T('amount'));
    text(el.clockLabel, T('timeLeft'));
    text(el.scan, T('scan'));
    el.copyAmount.setAttribute('aria-label', T('copyAmount'));
    el.copyCrypto.setAttribute('aria-label', T('copyCrypto'));
    for (const b of [el.copyAmount, el.copyCrypto]) if (!b.dataset.busy) text(b, T('copy'));
    if (el.open) { text(el.open, T('open')); text(el.close, T('close')); }
    if (!c) {
      el.root.dataset.status = this.failed ? 'error' : 'loading';
      el.root.dataset.tone = this.failed ? 'bad' : 'wait';
      text(el.status, T(this.failed ? 'loadError' : 'loading'));
      return;
    }
    const left = this.left();
    this.timeUp = left <= 0;
    const v = view(c, this.timeUp);
    const store = c.store || {};
    el.root.dataset.status = c.status;
    el.root.dataset.tone = v.tone;
    this.setAttribute('data-status', c.status);
    if (COLOR.test(store.brandColor || '')) el.root.style.setProperty('--cb-accent', store.brandColor);
    text(el.title, store.name || '');
    const logo = safeUrl(store.logoUrl, BASE);
    if (logo && el.logo.getAttribute('src') !== logo) el.logo.src = logo;
    show(el.logo, !!logo);
    text(el.amount, money(c.amount, c.currency, loc.tag));
    const cr = c.crypto && c.crypto.expected ? c.crypto : null; // any field may be null until the shopper picks a coin
    show(el.cryptoBox, !!cr);
    if (cr) {
      text(el.cryptoLabel, T('sendExactly'));
      text(el.crypto, coins(cr.expected, cr.coin || '', loc.tag).trim());
      text(el.net, cr.network ? T('network', { network: cr.network }) : '');
      show(el.net, !!cr.network);
    }
    if (el.open) show(el.open, true);

    text(el.status, T(v.msg));
    const miss = v.missing && c.missing;
    show(el.missing, !!miss);
    text(el.missing, miss ? T('missing', { amount: money(c.missing.amount, c.missing.currency, loc.tag) }) : '');

    show(el.clockBox, v.clock && Number.isFinite(left));
    if (Number.isFinite(left)) text(el.clock, clock(left));

    const email = c.support && EMAIL.test(c.support.email || '') ? c.support.email : '';
    show(el.contact, v.contact);
    text(el.contactText, T('contactStore'));
    show(el.email, !!email);
    if (email) { el.email.href = `mailto:${email}`; text(el.email, T('email')); }

    const gw = safeUrl(c.gatewayUrl);
    show(el.pay, !!(v.pay && gw));
    if (v.pay && gw) {
      el.pay.href = gw;
      el.pay.replaceChildren(T(v.pay), h('span', { class: 'sr' }, ` ${T('newTab')}`));
    }
    const ret = safeUrl(c.returnUrl);
    show(el.back, !!(v.back && ret));
    if (v.back && ret) { el.back.href = ret; text(el.back, T(v.back)); }

    show(el.qr, !!(v.qr && gw));
    if (v.qr && gw && this.qrFor !== gw) this.drawQr(gw);
    const svg = el.qrBox.firstElementChild;
    if (svg) svg.setAttribute('aria-label', T('qr'));

    // Back to the store by itself: on the pay page always; embedded only when this page saw the
    // payment arrive and the store's URL is another page (the widget may sit on the thank-you page).
    const here = location.href.split('#')[0];
    const go = v.redirect && ret && (this.standalone || (this.sawPaid && ret.split('#')[0] !== here));
    show(el.note, !!go);
    text(el.note, go ? T('redirect') : '');
    if (go && !this.redirect) this.redirect = setTimeout(() => location.assign(ret), 3000);
  }

  /** Draws the QR code of `url` as inline SVG (qr.js is loaded on first use). */
  async drawQr(url) {
    this.qrFor = url;
    let m;
    try { m = (await import('./qr.js')).qr(url); } catch { show(this.el.qr, false); return; }
    if (this.qrFor !== url) return;
    const { size, modules } = m;
    let d = '';
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size;) {
        if (!modules[y][x]) { x++; continue; }
        const s = x;
        while (x < size && modules[y][x]) x++;
        d += `M${s} ${y}h${x - s}v1h${s - x}z`;
      }
    }
    const q = size + 8;
    const svg = document.createElementNS(SVG, 'svg');
    const set = (node, a) => { for (const k in a) node.setAttribute(k, a[k]); return node; };
    set(svg, { viewBox: `-4 -4 ${q} ${q}`, role: 'img', 'aria-label': t(this.el.root.lang, 'qr'), 'shape-rendering': 'crispEdges' });
    svg.append(
      set(document.createElementNS(SVG, 'rect'), { x: -4, y: -4, width: q, height: q, fill: '#fff' }),
      set(document.createElementNS(SVG, 'path'), { d, fill: '#000' }));
    this.el.qrBox.replaceChildren(svg);
  }

  /** Copies `value`, then says "Copied" on the button (and to screen readers) for 2 s. */
  async copy(btn, value) {
    let ok = false;
    try { await navigator.clipboard.writeText(value); ok = true; } catch {
      const ta = h('textarea', { class: 'sr', readonly: true });
      ta.value = value;
      this.shadowRoot.append(ta);
      ta.select();
      try { ok = document.execCommand('copy'); } catch { /* not allowed */ }
      ta.remove();
      btn.focus();
    }
    const lang = this.el.root.lang;
    const msg = t(lang, ok ? 'copied' : 'copyFailed');
    btn.dataset.busy = '1';
    text(btn, ok ? msg : t(lang, 'copy'));
    this.el.notice.textContent = msg;
    clearTimeout(btn._t);
    btn._t = setTimeout(() => {
      delete btn.dataset.busy;
      text(btn, t(this.el.root.lang, 'copy'));
      this.el.notice.textContent = '';
    }, 2000);
  }
}

if (!customElements.get('coinbridge-checkout')) customElements.define('coinbridge-checkout', CoinbridgeCheckout);
