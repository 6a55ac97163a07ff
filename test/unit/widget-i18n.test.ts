/** The storefront widget's translations (storefront-widget/src/i18n.js) and language choice. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

type Lang = 'en' | 'es' | 'de' | 'fr' | 'pt';
interface I18n {
  dict: Record<Lang, Record<string, string>>;
  LOCALES: Lang[];
  pickLocale(attr: string | null | undefined, browser: readonly string[] | undefined, store: string | null | undefined): { lang: Lang; tag: string };
  t(lang: Lang, key: string, vars?: Record<string, string>): string;
}
const src = (f: string): URL => new URL(`../../storefront-widget/src/${f}`, import.meta.url);
const I = (await import(src('i18n.js').href)) as I18n;
const placeholders = (s: string): string[] => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();

describe('widget i18n', () => {
  it('has English, Spanish, German, French and Portuguese', () => {
    assert.deepEqual(Object.keys(I.dict).sort(), ['de', 'en', 'es', 'fr', 'pt']);
    assert.deepEqual([...I.LOCALES].sort(), ['de', 'en', 'es', 'fr', 'pt']);
  });

  it('has the same keys, non-empty strings and the same placeholders in every locale', () => {
    const keys = Object.keys(I.dict.en).sort();
    for (const lang of I.LOCALES) {
      assert.deepEqual(Object.keys(I.dict[lang]).sort(), keys, `keys of ${lang}`);
      for (const k of keys) {
        const s = I.dict[lang][k]!;
        assert.ok(typeof s === 'string' && s.trim().length > 0, `${lang}.${k} is empty`);
        assert.deepEqual(placeholders(s), placeholders(I.dict.en[k]!), `placeholders of ${lang}.${k}`);
        if (lang !== 'en' && !['copy', 'close'].includes(k) && s.length > 12) assert.notEqual(s, I.dict.en[k], `${lang}.${k} is still English`);
      }
    }
  });

  it('has every key the widget uses', () => {
    const used = new Set<string>();
    const checkout = readFileSync(src('checkout.js'), 'utf8');
    for (const m of checkout.matchAll(/\bT\('(\w+)'/g)) used.add(m[1]!);
    for (const m of checkout.matchAll(/\bt\([^,]+,\s*'(\w+)'/g)) used.add(m[1]!);
    for (const m of checkout.matchAll(/\b[Tt]\((?:lang,\s*)?[\w.!]+ \? '(\w+)' : '(\w+)'/g)) { used.add(m[1]!); used.add(m[2]!); }
    const state = readFileSync(src('state.js'), 'utf8');
    for (const m of state.matchAll(/\b(?:msg|pay|back): '(\w+)'/g)) used.add(m[1]!);
    assert.ok(used.size > 20, `found only ${used.size} keys: the patterns above no longer match the code`);
    for (const k of used) assert.ok(k in I.dict.en, `missing key ${k}`);
  });

  it('fills placeholders and falls back to English, then the key', () => {
    assert.equal(I.t('en', 'missing', { amount: '$12.50' }), '$12.50 is still missing.');
    assert.equal(I.t('de', 'missing', { amount: '12,50 $' }), 'Es fehlen noch 12,50 $.');
    assert.equal(I.t('fr', 'network', { network: 'TRC20' }), 'Réseau\u00a0: TRC20');
    assert.equal(I.t('xx' as Lang, 'pay'), 'Pay now');
    assert.equal(I.t('es', 'no_such_key'), 'no_such_key');
  });

  it('chooses the element lang, then the browser, then the store, then English', () => {
    assert.deepEqual(I.pickLocale('fr', ['de-DE', 'en'], 'es'), { lang: 'fr', tag: 'fr' });
    assert.deepEqual(I.pickLocale(null, ['de-CH', 'en'], 'es'), { lang: 'de', tag: 'de-CH' });
    assert.deepEqual(I.pickLocale('', ['it-IT', 'pt-BR'], 'es'), { lang: 'pt', tag: 'pt-BR' }, 'first browser language we have');
    assert.deepEqual(I.pickLocale(undefined, ['it', 'nl'], 'es-MX'), { lang: 'es', tag: 'es-MX' }, 'store locale when the browser has none of ours');
    assert.deepEqual(I.pickLocale('ja', ['it'], 'es_ES'), { lang: 'es', tag: 'es' }, 'unsupported lang attribute is skipped; odd tags keep the language');
    assert.deepEqual(I.pickLocale(null, [], null), { lang: 'en', tag: 'en' });
    assert.deepEqual(I.pickLocale(null, undefined, 'zz'), { lang: 'en', tag: 'en' });
  });
});
