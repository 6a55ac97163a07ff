/**
 * The SHOPIFY_ADMIN_ORIGIN seam: the official @shopify/shopify-api client, unchanged, talks to
 * the Shopify emulator for token exchange and Admin GraphQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiVersion, RequestedTokenType, shopifyApi } from '@shopify/shopify-api';
import { routeShopifyAdminTo } from '../../src/platforms/shopify/admin-transport.ts';
import { startShopifyEmulator, type ShopifyEmulator } from '../emulators/shopify/server.ts';

describe('Shopify admin transport through the test seam', () => {
  let emu: ShopifyEmulator;
  const shop = 'seam-test.myshopify.com';

  before(async () => {
    emu = await startShopifyEmulator();
    emu.addShop(shop);
    routeShopifyAdminTo(emu.origin);
  });
  after(() => emu?.close());

  it('token exchange and an Admin GraphQL call reach the emulator, with the shop named', async () => {
    const app = emu.addApp({ scopes: 'read_orders,write_orders' });
    const shopify = shopifyApi({
      apiKey: app.clientId, apiSecretKey: app.secret, scopes: ['read_orders', 'write_orders'], hostName: 'coinbridge.test',
      apiVersion: ApiVersion.October25, isEmbeddedApp: true, logger: { level: 0 },
    });
    const { session } = await shopify.auth.tokenExchange({
      shop, sessionToken: emu.sessionToken(app.clientId, shop), requestedTokenType: RequestedTokenType.OfflineAccessToken,
    });
    assert.match(session.accessToken ?? '', /^shpat_/);
    const order = emu.createOrder(shop, { total: '25.00', currency: 'USD' });
    const client = new shopify.clients.Graphql({ session });
    const res = await client.request('query order($id: ID!) { order(id: $id) { id displayFinancialStatus } }', { variables: { id: order.id } });
    assert.equal((res.data as { order: { id: string } }).order.id, order.id);
    const seen = emu.requests.filter((r) => r.path.startsWith('/admin/'));
    assert.ok(seen.some((r) => r.path === '/admin/oauth/access_token'));
    assert.ok(seen.some((r) => r.path.endsWith('/graphql.json')));
    assert.ok(seen.every((r) => r.headers['x-shopify-shop-domain'] === shop), 'every call names the shop');
  });

  it('a session token for another shop is refused by the emulator, through the library', async () => {
    const app = emu.addApp();
    const shopify = shopifyApi({ apiKey: app.clientId, apiSecretKey: app.secret, scopes: [], hostName: 'coinbridge.test', apiVersion: ApiVersion.October25, isEmbeddedApp: true, logger: { level: 0 } });
    await assert.rejects(
      shopify.auth.tokenExchange({ shop, sessionToken: emu.sessionToken(app.clientId, shop, { variant: 'wrong-dest' }), requestedTokenType: RequestedTokenType.OfflineAccessToken }),
      (err: { response?: { code?: number; body?: { error?: string } } }) => err.response?.code === 400 && err.response.body?.error === 'invalid_subject_token',
    );
    assert.ok(emu.requests.some((r) => r.path === '/admin/oauth/access_token' && r.headers['x-shopify-shop-domain'] === shop), 'the refusal came from the emulator');
  });
});
