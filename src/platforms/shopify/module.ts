import type Router from '@koa/router';
import type { PaymentService } from '../../core/payment-service.ts';
import type { SecretBox } from '../../crypto/secret-box.ts';
import type { Database } from '../../db/database.ts';
import type { GatewayRegistry } from '../../gateways/registry.ts';
import type { JobHandler, JobWaker } from '../../jobs/queue.ts';
import type { Logger } from '../../observability/log.ts';
import type { Metrics } from '../../observability/metrics.ts';
import type { PlatformAdapter } from '../types.ts';
import { routeShopifyAdminTo } from './admin-transport.ts';
import { ShopifyAdmin } from './admin.ts';
import { saveShopifyApp } from './apps.ts';
import { ShopifyClients } from './clients.ts';
import { shopifyEmbeddedRoutes } from './embedded-routes.ts';
import { shopifyInstallRoutes } from './install-routes.ts';
import { ShopifyOrderSync } from './order-sync.ts';
import { registerWebhooksJob } from './register-webhooks.ts';
import { shopifyWebhookJob } from './webhook-jobs.ts';
import { shopifyWebhookRoutes } from './webhook-routes.ts';

export interface ShopifyModule {
  routers: Router[];
  jobs: JobHandler<any>[];
  adapter: PlatformAdapter;
}

/** Everything Shopify, wired: routes, job handlers and the write-back adapter. */
export async function shopifyModule(deps: {
  db: Database; box: SecretBox; payments: PaymentService; gateways: GatewayRegistry; log: Logger; metrics: Metrics; waker: JobWaker;
  publicUrl: string; adminOrigin: string | undefined; apiKey: string | undefined; apiSecret: string | undefined;
  /** ALLOW_PRIVATE_URLS: lets a merchant's self-hosted gateway instance be on loopback (development, tests). */
  allowPrivateUrls: boolean;
}): Promise<ShopifyModule> {
  routeShopifyAdminTo(deps.adminOrigin);
  const clients = new ShopifyClients(deps.publicUrl);
  if (deps.apiKey && deps.apiSecret) await saveShopifyApp(deps.db.pool, deps.box, { clientId: deps.apiKey, secret: deps.apiSecret });
  const admin = new ShopifyAdmin({ db: deps.db, box: deps.box, clients, log: deps.log });
  const common = { ...deps, clients, admin, defaultClientId: deps.apiKey };
  return {
    routers: [shopifyInstallRoutes(common), shopifyWebhookRoutes(common), shopifyEmbeddedRoutes(common)],
    jobs: [shopifyWebhookJob(deps), registerWebhooksJob({ admin, publicUrl: deps.publicUrl, log: deps.log })],
    adapter: new ShopifyOrderSync({ db: deps.db, box: deps.box, admin, payments: deps.payments }),
  };
}
