import crypto from 'node:crypto';
import type { CheckoutLocale } from '../core/settings.ts';
import { jsonForHtml, type CheckoutSnapshot } from './view.ts';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The few words the server writes itself; everything else is the widget's. */
const WORDS: Record<CheckoutLocale, { payment: string; noscript: string; payThere: string; notStarted: string; notFoundTitle: string; notFound: string }> = {
  en: { payment: 'Payment', noscript: 'This page needs JavaScript to show the payment status.', payThere: 'Pay on the payment provider’s page',
    notStarted: 'This payment could not be started. Ask the store to try again.', notFoundTitle: 'Payment not found',
    notFound: 'This payment link is not valid. Ask the store for a new one.' },
  es: { payment: 'Pago', noscript: 'Esta página necesita JavaScript para mostrar el estado del pago.', payThere: 'Pagar en la página del proveedor de pagos',
    notStarted: 'No se pudo iniciar este pago. Pide a la tienda que lo intente de nuevo.', notFoundTitle: 'Pago no encontrado',
    notFound: 'Este enlace de pago no es válido. Pide uno nuevo a la tienda.' },
  de: { payment: 'Zahlung', noscript: 'Diese Seite braucht JavaScript, um den Zahlungsstatus anzuzeigen.', payThere: 'Auf der Seite des Zahlungsanbieters bezahlen',
    notStarted: 'Diese Zahlung konnte nicht gestartet werden. Bitten Sie den Shop, es erneut zu versuchen.', notFoundTitle: 'Zahlung nicht gefunden',
    notFound: 'Dieser Zahlungslink ist ungültig. Bitten Sie den Shop um einen neuen.' },
  fr: { payment: 'Paiement', noscript: 'Cette page a besoin de JavaScript pour afficher l’état du paiement.', payThere: 'Payer sur la page du prestataire de paiement',
    notStarted: 'Ce paiement n’a pas pu être lancé. Demandez à la boutique de réessayer.', notFoundTitle: 'Paiement introuvable',
    notFound: 'Ce lien de paiement n’est pas valide. Demandez-en un nouveau à la boutique.' },
  pt: { payment: 'Pagamento', noscript: 'Esta página precisa de JavaScript para mostrar o estado do pagamento.', payThere: 'Pagar na página do provedor de pagamentos',
    notStarted: 'Não foi possível iniciar este pagamento. Peça à loja para tentar novamente.', notFoundTitle: 'Pagamento não encontrado',
    notFound: 'Este link de pagamento não é válido. Peça um novo à loja.' },
};

/** A fresh CSP nonce per response. */
export function newNonce(): string {
  return crypto.randomBytes(18).toString('base64');
}

/**
 * The pay page's policy: scripts only by nonce ('strict-dynamic' lets the nonce'd loader pull in
 * the widget's modules), styles from this origin or by nonce, nothing to frame it but the
 * store's listed origins.
 */
export function payPageCsp(nonce: string, frameAncestors: readonly string[]): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}' 'strict-dynamic'`,
    `style-src 'self' 'nonce-${nonce}'`,
    "img-src 'self' data: https:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    `frame-ancestors ${frameAncestors.length > 0 ? frameAncestors.join(' ') : "'none'"}`,
  ].join('; ');
}

// Only the page frame; the widget styles itself.
const STYLE = 'html{-webkit-text-size-adjust:100%}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#f6f7f9}'
  + 'main{max-width:32rem;margin:0 auto;padding:1rem}noscript p{margin:1rem 0}';

/** The hosted pay page: a server-rendered shell the widget fills in from the embedded JSON. */
export function renderPayPage(snapshot: CheckoutSnapshot, nonce: string): string {
  const { view } = snapshot;
  const w = WORDS[view.store.locale];
  const n = esc(nonce);
  const fallback = view.gatewayUrl && /^https?:\/\//i.test(view.gatewayUrl)
    ? `<p>${esc(w.noscript)}</p><p><a href="${esc(view.gatewayUrl)}" rel="noreferrer">${esc(w.payThere)}</a></p>`
    : `<p>${esc(w.notStarted)}</p>`;
  return `<!doctype html>
<html lang="${esc(view.store.locale)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex">
<meta name="csp-nonce" content="${n}">
<title>${esc(view.store.name)} · ${esc(w.payment)}</title>
<style nonce="${n}">${STYLE}</style>
</head>
<body>
<main>
<coinbridge-checkout ref="${esc(view.ref)}" data-standalone></coinbridge-checkout>
<noscript>${fallback}</noscript>
</main>
<script type="application/json" id="coinbridge-initial">${jsonForHtml(view)}</script>
<script src="/widget.js" nonce="${n}" async></script>
</body>
</html>
`;
}

/** What an unknown or malformed pay link shows: a page for people, not a JSON error. */
export function renderNotFoundPage(nonce: string): string {
  const n = esc(nonce);
  const w = WORDS.en;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${esc(w.notFoundTitle)}</title>
<style nonce="${n}">${STYLE}h1{font-size:1.5rem}</style>
</head>
<body>
<main>
<h1>${esc(w.notFoundTitle)}</h1>
<p>${esc(w.notFound)}</p>
</main>
</body>
</html>
`;
}
