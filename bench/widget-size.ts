/**
 * Size of the storefront widget as browsers download it (issue 5 §5). For every file in
 * storefront-widget/src/ and for the first-render set (the loader, checkout.css, checkout.js and
 * every module it imports statically; qr.js loads after the first render) it prints raw, gzip
 * (zlib level 9) and brotli (quality 11) bytes beside the budgets and two references.
 * Exit code 1 when a budget is exceeded.
 *
 *   node bench/widget-size.ts
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const SRC = path.join(import.meta.dirname, '..', 'storefront-widget', 'src');
const LOADER_RAW_BUDGET = 10_000;
/** 15 kB read strictly as 15,000 bytes (15 KiB would be 15,360). */
const FIRST_RENDER_GZIP_BUDGET = 15_000;
const BTCPAY_MODAL_GZIP = 2_103;
const SHOPIFY_APP_BLOCK_JS = 10_000;

interface Size { raw: number; gzip: number; brotli: number }

function sizeOf(file: string): Size {
  const buf = readFileSync(path.join(SRC, file));
  return {
    raw: buf.length,
    gzip: gzipSync(buf, { level: 9 }).length,
    brotli: brotliCompressSync(buf, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: buf.length } }).length,
  };
}

/** checkout.js and the modules it imports statically (`import … from './x.js'`), transitively. */
function staticGraph(entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const code = readFileSync(path.join(SRC, file), 'utf8');
    for (const m of code.matchAll(/^\s*import\s[^;]*?from\s*['"]\.\/([a-z0-9-]+\.js)['"]/gm)) visit(m[1]!);
  };
  visit(entry);
  return [...seen];
}

const files = readdirSync(SRC).filter((f) => /^[a-z0-9-]+\.(js|css)$/.test(f)).sort();
const sizes = new Map(files.map((f) => [f, sizeOf(f)]));
const firstRender = ['loader.js', 'checkout.css', ...staticGraph('checkout.js')];
const total: Size = { raw: 0, gzip: 0, brotli: 0 };
for (const f of firstRender) {
  const s = sizes.get(f);
  if (!s) throw new Error(`first-render file missing: ${f}`);
  total.raw += s.raw; total.gzip += s.gzip; total.brotli += s.brotli;
}

const loader = sizes.get('loader.js')!;
const loaderOk = loader.raw <= LOADER_RAW_BUDGET;
const firstOk = total.gzip <= FIRST_RENDER_GZIP_BUDGET;

const rows: string[][] = [['file', 'raw B', 'gzip B', 'brotli B', 'first render', 'budget / reference']];
for (const f of files) {
  const s = sizes.get(f)!;
  const note = f === 'loader.js'
    ? `≤ ${LOADER_RAW_BUDGET.toLocaleString('en')} B raw: ${loaderOk ? 'ok' : 'OVER'}; Shopify app-block JS ${SHOPIFY_APP_BLOCK_JS.toLocaleString('en')} B: ${s.raw <= SHOPIFY_APP_BLOCK_JS ? 'fits' : 'over'}`
    : f === 'qr.js' ? 'lazy, after first render' : '';
  rows.push([f, String(s.raw), String(s.gzip), String(s.brotli), firstRender.includes(f) ? 'yes' : 'no', note]);
}
rows.push([`first render (${firstRender.length} files)`, String(total.raw), String(total.gzip), String(total.brotli), '',
  `≤ ${FIRST_RENDER_GZIP_BUDGET.toLocaleString('en')} B gzip: ${firstOk ? 'ok' : 'OVER'}`]);
rows.push(['everything', ...(['raw', 'gzip', 'brotli'] as const).map((k) => String([...sizes.values()].reduce((n, s) => n + s[k], 0))), '', '']);
rows.push(['BTCPay modal loader (reference)', '', String(BTCPAY_MODAL_GZIP), '', '', `loader here: ${loader.gzip} B gzip`]);
rows.push(['Shopify app-block JS limit (reference)', String(SHOPIFY_APP_BLOCK_JS), '', '', '', `loader here: ${loader.raw} B raw`]);

const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
const line = (r: string[]): string => r.map((c, i) => (i >= 1 && i <= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
console.log(`storefront-widget/src — first render: ${firstRender.join(', ')}`);
console.log(line(rows[0]!));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows.slice(1)) console.log(line(r));
if (!loaderOk || !firstOk) {
  console.error(`budget exceeded: ${!loaderOk ? `loader ${loader.raw} B raw > ${LOADER_RAW_BUDGET}` : ''}${!loaderOk && !firstOk ? '; ' : ''}${!firstOk ? `first render ${total.gzip} B gzip > ${FIRST_RENDER_GZIP_BUDGET}` : ''}`);
  process.exit(1);
}
