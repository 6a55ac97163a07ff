import assert from 'node:assert/strict';
import fs from 'node:fs';
import { it } from 'node:test';
import { parse } from 'yaml';

it('openapi.yaml is valid YAML and documents every public route', () => {
  const doc = parse(fs.readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8'));
  assert.match(String(doc.openapi), /^3\./);
  const paths = Object.keys(doc.paths);
  for (const route of ['/v1/payments', '/v1/payments/{id}', '/ipn/{gateway}/{connectionId}', '/pay/{ref}', '/shopify/install', '/shopify/callback',
    '/shopify/webhooks', '/shopify/app', '/shopify/app/api/settings', '/shopify/app/api/gateway', '/shopify/extension/payment', '/woocommerce/connect', '/woocommerce/callback/{nonce}', '/woocommerce/claim', '/woocommerce/webhooks/{storeId}', '/v1/woocommerce/settings', '/healthz', '/readyz', '/metrics',
    '/v1/checkout/{ref}', '/v1/checkout/{ref}/events', '/widget.js', '/widget/{file}']) {
    assert.ok(paths.includes(route), `${route} is documented`);
  }
});
