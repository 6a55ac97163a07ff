import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkMerchantUrl, guardedLookup, isPublicAddress } from '../../src/net/url-guard.ts';

describe('merchant URL guard (SSRF)', () => {
  it('judges addresses: private, loopback, link-local, metadata, mapped and reserved are not public', () => {
    for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fe80::1', 'fc00::1',
      '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254', '::7f00:1', '::ffff:0:7f00:1', '::a9fe:a9fe', '224.0.0.1', '255.255.255.255']) assert.equal(isPublicAddress(a), false, a);
    for (const a of ['93.184.216.34', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) assert.equal(isPublicAddress(a), true, a);
  });

  it('refuses http, credentials, private literals in every spelling, and local names', async () => {
    const refused = ['http://shop.example.com', 'https://user:pw@shop.example.com', 'https://127.0.0.1', 'https://2130706433', 'https://0x7f.0.0.1',
      'https://0177.0.0.1', 'https://127.1', 'https://[::1]', 'https://[::ffff:127.0.0.1]', 'https://169.254.169.254', 'https://10.0.0.5:8443',
      'https://localhost', 'https://shop.localhost', 'https://vm', 'not a url', 'https://shop.example.com/?x=1'];
    for (const url of refused) {
      const r = await checkMerchantUrl(url, { allowPrivate: false });
      assert.equal(r.ok, false, url);
    }
    assert.deepEqual(await checkMerchantUrl('https://93.184.216.34/shop', { allowPrivate: false }), { ok: true, url: new URL('https://93.184.216.34/shop') });
    assert.equal((await checkMerchantUrl('http://127.0.0.1:8080', { allowPrivate: true })).ok, true, 'the development flag allows loopback');
  });

  it('refuses a name that resolves to a private address at connect time', async () => {
    const lookup = guardedLookup(false);
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => lookup('localhost', {}, (e) => resolve(e)));
    assert.equal(err?.code, 'EADDRNOTPUBLIC');
    const ok = await new Promise<NodeJS.ErrnoException | null>((resolve) => guardedLookup(true)('localhost', {}, (e) => resolve(e)));
    assert.equal(ok, null);
  });
});
