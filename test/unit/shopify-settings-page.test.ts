import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderSettingsPage } from '../../src/platforms/shopify/settings-page.ts';

const HOSTILE = '"><script>alert(1)</script>';
const NONCE = 'n0nce-abc123';
const APP_BRIDGE = 'https://cdn.shopify.com/shopifycloud/app-bridge.js';

const page = renderSettingsPage({ clientId: `id${HOSTILE}`, shop: `shop${HOSTILE}.myshopify.com`, nonce: NONCE });
/** The markup alone: the script body may legitimately mention things like `style` or `onX`. */
const markup = page.replace(/(<script\b[^>]*>)[\s\S]*?<\/script>/g, '$1</script>').replace(/(<style\b[^>]*>)[\s\S]*?<\/style>/g, '$1</style>');
const tags = markup.match(/<[a-z][^>]*>/gi) ?? [];

describe('Shopify settings page', () => {
  it('HTML-escapes the client id and the shop', () => {
    assert.ok(!page.includes(HOSTILE), 'a raw interpolated value reached the page');
    assert.equal(page.match(/<script\b/g)?.length, 2, 'only App Bridge and the page script');
    assert.ok(page.includes('content="id&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"'));
    assert.ok(page.includes('shop&quot;&gt;&lt;script&gt;'));
  });

  it('puts the nonce on every inline script and style, and loads App Bridge from Shopify', () => {
    const scriptsAndStyles = tags.filter((t) => /^<(script|style)\b/i.test(t));
    assert.ok(scriptsAndStyles.length >= 3);
    for (const tag of scriptsAndStyles) {
      if (tag.includes(`src="${APP_BRIDGE}"`)) continue;
      assert.ok(tag.includes(`nonce="${NONCE}"`), `no nonce on ${tag}`);
      assert.ok(!/\ssrc=/.test(tag), `unexpected external script ${tag}`);
    }
    assert.ok(scriptsAndStyles.some((t) => t.includes(`src="${APP_BRIDGE}"`)));
    assert.match(page, /<meta name="shopify-api-key" content="[^"]+">/);
  });

  it('has no inline event handlers or style attributes (the CSP would block them)', () => {
    for (const tag of tags) {
      assert.doesNotMatch(tag, /\son[a-z]+\s*=/i, tag);
      assert.doesNotMatch(tag, /\sstyle\s*=/i, tag);
    }
  });

  it('labels every form control', () => {
    const controls = tags.filter((t) => /^<(input|select|textarea)\b/i.test(t));
    assert.ok(controls.length >= 9, `only ${controls.length} controls`);
    for (const control of controls) {
      const id = /\sid="([^"]+)"/.exec(control)?.[1];
      assert.ok(id, `control without id: ${control}`);
      assert.ok(markup.includes(`<label for="${id}">`), `no label for #${id}`);
    }
    assert.match(markup, /role="status" aria-live="polite"/);
  });

  it('never pre-fills the gateway secrets', () => {
    for (const id of ['apiKey', 'ipnSecret']) {
      const tag = tags.find((t) => t.includes(`id="${id}"`));
      assert.ok(tag?.includes('type="password"'), id);
      assert.ok(!/\svalue=/.test(tag!), id);
    }
  });

  it('stays under 12,000 bytes', () => {
    const size = Buffer.byteLength(page);
    assert.ok(size < 12_000, `${size} bytes`);
  });
});
