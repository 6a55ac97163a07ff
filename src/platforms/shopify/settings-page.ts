/**
 * The embedded settings page: one small static HTML document that talks to the JSON API under
 * /shopify/app/api with a session token. No framework, so it stays far inside the Built for
 * Shopify admin budgets; the route's CSP allows only nonce'd inline code, hence no inline handler
 * or style attributes anywhere.
 */

export interface SettingsPageOptions {
  clientId: string;
  shop: string;
  nonce: string;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** Label, control and the two lines under it; ids tie them together for screen readers. */
function field(id: string, label: string, control: string, help: string): string {
  return `<div class="f"><label for="${id}">${label}</label>${control}<p class="h" id="h-${id}">${help}</p><p class="e" id="e-${id}"></p></div>`;
}

/** A select with no help line (its label says it all); its error line stays. */
function bare(id: string, label: string, options: [string, string][]): string {
  const opts = options.map(([v, t]) => `<option value="${v}">${t}</option>`).join('');
  return `<div class="f"><label for="${id}">${label}</label><select id="${id}" aria-describedby="e-${id}">${opts}</select><p class="e" id="e-${id}"></p></div>`;
}

function input(id: string, attrs: string): string {
  return `<input id="${id}" aria-describedby="h-${id} e-${id}" ${attrs}>`;
}

function select(id: string, options: [string, string][]): string {
  const opts = options.map(([v, t]) => `<option value="${v}">${t}</option>`).join('');
  return `<select id="${id}" aria-describedby="h-${id} e-${id}">${opts}</select>`;
}

const STYLE = `body{font:15px/1.5 system-ui,sans-serif;color:#1a1a1a;background:#f6f6f7;margin:0;padding:16px}
main{max-width:640px;margin:auto}section{background:#fff;border:1px solid #d0d0d0;border-radius:8px;padding:16px;margin:0 0 16px}
h1{font-size:20px;margin:0 0 12px}h2{font-size:17px;margin:0 0 12px}.f{margin:0 0 14px}
label{display:block;font-weight:600}input,select{font:inherit;padding:6px 8px;border:1px solid #6b6b6b;border-radius:4px;max-width:100%}
input[type=text],input[type=password]{width:100%;box-sizing:border-box}.c label{display:inline;font-weight:600}
.h{margin:2px 0 0;color:#4a4a4a;font-size:13px}.e{margin:2px 0 0;color:#b3261e;font-weight:600}.e:empty{display:none}
[aria-invalid=true]{border-color:#b3261e}button{font:inherit;padding:7px 14px;border-radius:6px;border:1px solid #1a1a1a;background:#fff;color:#1a1a1a;cursor:pointer;margin:0 8px 8px 0}
button.p{background:#1a1a1a;color:#fff}button:disabled{opacity:.6;cursor:wait}
:focus-visible{outline:3px solid #005bd3;outline-offset:2px}#status{min-height:1.5em;font-weight:600}
td,th{text-align:left;padding:4px}`;

// Plain ES2020 for the browser; kept free of template literals so it can sit inside this one.
const SCRIPT = `(function(){
var $=function(id){return document.getElementById(id)};
var urlToken=new URL(location.href).searchParams.get('id_token');
var F=['paymentMethodName','expiryMinutes','latePaymentWindowMinutes','latePaymentPolicy','cancelOnExpiry','underpaidAtExpiry'];
function say(t){$('status').textContent=t}
async function token(){
var s=window.shopify;
if(s&&typeof s.idToken==='function'){
try{return await Promise.race([s.idToken(),new Promise(function(_,no){setTimeout(no,5000)})])}catch(e){if(!urlToken)throw e}
}
if(urlToken)return urlToken;
throw new Error('No session token: open this page from the Shopify admin.');
}
async function api(method,path,body){
var h={Authorization:'Bearer '+await token()};
if(body!==undefined)h['Content-Type']='application/json';
var r=await fetch('/shopify/app/api/'+path,{method:method,headers:h,body:body===undefined?undefined:JSON.stringify(body)});
var d=null;try{d=await r.json()}catch(e){}
if(!r.ok){var er=(d&&d.error)||{};var x=new Error(er.message||('Request failed ('+r.status+')'));x.details=er.details||[];throw x}
return d;
}
function clearErrors(){document.querySelectorAll('.e').forEach(function(p){p.textContent=''});document.querySelectorAll('[aria-invalid]').forEach(function(i){i.removeAttribute('aria-invalid')})}
function showError(e){
(e.details||[]).forEach(function(d){
var k=String(d.field||'').split('.').pop();if(k==='underpaymentToleranceBp')k='tolerance';
var p=$('e-'+k),i=$(k);if(p)p.textContent=d.problem;if(i)i.setAttribute('aria-invalid','true');
});
say('Error: '+e.message);
}
async function run(btn,fn){
clearErrors();btn.disabled=true;say('Working…');
try{await fn()}catch(e){showError(e)}finally{btn.disabled=false}
}
function sub(f,b,fn){$(f).addEventListener('submit',function(ev){ev.preventDefault();run($(b),fn)})}
function fill(d){
var s=d.settings;$('store').textContent=d.shop;
$('paymentMethodName').value=s.paymentMethodName;$('tolerance').value=String(s.underpaymentToleranceBp/100);
$('expiryMinutes').value=s.expiryMinutes;$('latePaymentWindowMinutes').value=s.latePaymentWindowMinutes;
$('latePaymentPolicy').value=s.latePaymentPolicy;$('cancelOnExpiry').checked=s.cancelOnExpiry;$('underpaidAtExpiry').value=s.underpaidAtExpiry;
}
var G={paymento:'Paymento','crypto-checkout':'Crypto Checkout',cryptonow:'CryptoNow'};
function nm(c){return G[c.gateway]+' ('+c.mode+') '+c.id.slice(0,8)}
function conns(l){
var u=$('gw-list'),d=$('defaultId'),f=$('fallbackId');u.textContent=d.textContent=f.textContent='';f.add(new Option('None',''));
l.forEach(function(c){u.appendChild(document.createElement('li')).textContent=nm(c)+': '+c.role;d.add(new Option(nm(c),c.id,0,c.role=='default'));f.add(new Option(nm(c),c.id,0,c.role=='fallback'))});
if(!l.length)u.textContent='Not connected';
}
function pays(l){var b=$('pays');b.textContent='';l.forEach(function(p){var r=b.insertRow();[p.orderName||p.orderId,p.status,p.amount+' '+p.currency,p.gateway+' ('+p.mode+')',p.createdAt.slice(0,16).replace('T',' ')].forEach(function(v){r.insertCell().textContent=v})})}
var K=['apiKey','ipnSecret','instanceUrl'];
function sync(){var v=$('mode').value=='live';K.forEach(function(k){var i=$(k);i.closest('.f').hidden=!v||(k=='instanceUrl'&&$('gateway').value!='crypto-checkout');i.required=!i.closest('.f').hidden})}
$('mode').addEventListener('change',sync);$('gateway').addEventListener('change',sync);sync();
function read(){
var s={};F.forEach(function(k){var i=$(k);s[k]=i.type==='checkbox'?i.checked:(i.type==='number'?Number(i.value):i.value)});
s.underpaymentToleranceBp=Math.round(Number($('tolerance').value)*100);return s;
}
sub('settings','save',async function(){fill(await api('PUT','settings',read()));say('Settings saved.')});
sub('gw','gw-save',async function(){
var s={gateway:$('gateway').value,mode:$('mode').value,role:$('role').value};
if(s.mode=='live')K.forEach(function(k){if(!$(k).closest('.f').hidden)s[k]=$(k).value});
conns((await api('POST','gateway',s)).connections);$('apiKey').value=$('ipnSecret').value='';say(G[s.gateway]+' connected.')});
sub('choose','choose-save',async function(){
conns((await api('PUT','gateways',{defaultId:$('defaultId').value,fallbackId:$('fallbackId').value||null})).connections);say('Choice saved.')});
$('gw-test').addEventListener('click',function(){var b=this;run(b,async function(){var d=await api('POST','gateway/test');say(d.ok?'Connection works.':'Connection failed: '+(d.message||'no reason given'))})});
say('Loading…');
api('GET','settings').then(function(d){fill(d);say('')},function(e){say('Could not load settings: '+e.message)});
api('GET','gateways').then(function(d){conns(d.connections)},function(e){say(e.message)});
api('GET','payments').then(function(d){pays(d.payments)},function(e){say(e.message)});
})();`;

export function renderSettingsPage(opts: SettingsPageOptions): string {
  const nonce = escapeHtml(opts.nonce);
  const settings = [
    field('paymentMethodName', 'Payment method name', input('paymentMethodName', 'type="text" required maxlength="100"'),
      'The name of the manual payment method in Shopify; orders paid with a method whose name contains this text get a crypto payment.'),
    field('tolerance', 'Underpayment tolerance (%)', input('tolerance', 'type="number" min="0" max="10" step="0.01" required'),
      'A payment this much short still counts as paid, e.g. to absorb exchange withdrawal fees. 0 to 10%.'),
    field('expiryMinutes', 'Payment window (minutes)', input('expiryMinutes', 'type="number" min="5" max="1440" step="1" required'),
      'How long the buyer has to pay. 5 to 1440.'),
    field('latePaymentWindowMinutes', 'Late payment window (minutes)', input('latePaymentWindowMinutes', 'type="number" min="0" max="10080" step="1" required'),
      'Payments arriving this long after expiry are still accepted. 0 to 10080 (7 days).'),
    field('latePaymentPolicy', 'Late payments', select('latePaymentPolicy', [['paid_late', 'Mark the order paid'], ['review', 'Hold for my review']]),
      'What happens to a payment that arrives within the late window.'),
    `<div class="f c">${input('cancelOnExpiry', 'type="checkbox"')} <label for="cancelOnExpiry">Cancel unpaid orders on expiry</label><p class="h" id="h-cancelOnExpiry">Restocks items; the buyer is not notified.</p><p class="e" id="e-cancelOnExpiry"></p></div>`,
    field('underpaidAtExpiry', 'Underpaid at expiry', select('underpaidAtExpiry', [['partial_capture', 'Record the partial payment'], ['review', 'Hold for my review']]),
      'What happens when the window closes and only part was paid.'),
  ].join('\n');
  const choice = [bare('defaultId', 'Default gateway', []), bare('fallbackId', 'Fallback gateway', [])].join('\n');
  // Keys are asked for in live mode only (the script shows them), the instance URL for Crypto Checkout only.
  const gatewayFields = [
    bare('gateway', 'Gateway', [['paymento', 'Paymento'], ['crypto-checkout', 'Crypto Checkout'], ['cryptonow', 'CryptoNow']]),
    bare('mode', 'Mode', [['sandbox', 'Sandbox'], ['live', 'Live']]),
    bare('role', 'Use it as', [['default', 'Default'], ['fallback', 'Fallback'], ['extra', 'Neither']]),
    field('instanceUrl', 'Instance URL', input('instanceUrl', 'type="text"'), 'Your Crypto Checkout, https://…'),
    field('apiKey', 'API key', input('apiKey', 'type="password" autocomplete="new-password"'), 'CryptoNow: public key.'),
    field('ipnSecret', 'Callback secret', input('ipnSecret', 'type="password" autocomplete="new-password"'), 'IPN/webhook secret; CryptoNow: private key.'),
  ].join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="shopify-api-key" content="${escapeHtml(opts.clientId)}">
<script src="https://cdn.shopify.com/shopifycloud/app-bridge.js"></script>
<title>Coinbridge settings</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<main>
<h1>Coinbridge</h1>
<p>Store: <strong id="store">${escapeHtml(opts.shop)}</strong></p>
<p id="status" role="status" aria-live="polite"></p>
<section aria-labelledby="t-settings">
<h2 id="t-settings">Payment settings</h2>
<form id="settings">
${settings}
<button id="save" class="p" type="submit">Save settings</button>
</form>
</section>
<section aria-labelledby="t-gw">
<h2 id="t-gw">Gateways</h2>
<ul id="gw-list"></ul>
<form id="choose">
<p class="h">The fallback serves when the default fails.</p>
${choice}
<button id="choose-save" type="submit">Save choice</button>
<button id="gw-test" type="button">Test default</button>
</form>
<h2>Connect a gateway</h2>
<form id="gw" autocomplete="off">
${gatewayFields}
<button id="gw-save" class="p" type="submit">Connect</button>
</form>
</section>
<section aria-labelledby="t-pay">
<h2 id="t-pay">Recent payments</h2>
<table><thead><tr><th>Order</th><th>Status</th><th>Amount</th><th>Gateway</th><th>Created</th></tr></thead><tbody id="pays"></tbody></table>
</section>
</main>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>
`;
}
