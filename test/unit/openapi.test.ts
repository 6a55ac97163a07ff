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
    '/v1/checkout/{ref}', '/v1/checkout/{ref}/events', '/widget.js', '/widget/{file}',
    '/v1/admin/session', '/v1/admin/me', '/v1/admin/setup', '/v1/admin/users', '/v1/admin/users/{id}/stores', '/admin/shopify',
    '/admin', '/admin/login', '/admin/setup', '/admin/health', '/admin/payments/{id}', '/admin/assets/{file}',
    '/v1/admin/stores', '/v1/admin/search', '/v1/admin/payments/{id}', '/v1/admin/payments/{id}/reverify', '/v1/admin/payments/{id}/resync',
    '/v1/admin/jobs/{jobId}/retry', '/v1/admin/payments/{id}/resolve', '/v1/admin/stores/{id}/settings', '/v1/admin/audit', '/v1/admin/health',
    '/v1/admin/export.csv', '/v1/admin/mismatches', '/v1/admin/stores/{id}/gateways', '/shopify/app/api/gateways', '/shopify/app/api/payments',
    '/sandbox/paymento/v1/payment/request', '/sandbox/crypto-checkout/api/v1/checkout_sessions', '/sandbox/cryptonow/api/v1/payments',
    '/sandbox/{gateway}/gateway', '/sandbox/{gateway}/gateway/{token}/{action}']) {
    assert.ok(paths.includes(route), `${route} is documented`);
  }
});
