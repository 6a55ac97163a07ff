import type Router from '@koa/router';
import type { PaymentService } from '../../core/payment-service.ts';
import type { SecretBox } from '../../crypto/secret-box.ts';
import type { Database } from '../../db/database.ts';
import type { JobHandler, JobWaker } from '../../jobs/queue.ts';
import type { Logger } from '../../observability/log.ts';
import type { Metrics } from '../../observability/metrics.ts';
import type { PlatformAdapter } from '../types.ts';
import { wooConnectRoutes } from './connect-routes.ts';
import { wooConnectJob, wooReconcileJob, wooWebhookJob } from './jobs.ts';
import { WooOrderSync } from './order-sync.ts';
import { wooSettingsRoutes } from './settings-routes.ts';
import { wooWebhookRoutes } from './webhook-routes.ts';

export interface WooModule {
  routers: Router[];
  jobs: JobHandler<any>[];
  adapter: PlatformAdapter;
}

/** Everything WooCommerce, wired: connect and webhook routes, their jobs, and the write-back. */
export function wooCommerceModule(deps: {
  db: Database; box: SecretBox; payments: PaymentService; log: Logger; metrics: Metrics; waker: JobWaker;
  publicUrl: string; allowPrivate: boolean; timeoutMs: number;
}): WooModule {
  return {
    routers: [wooConnectRoutes(deps), wooWebhookRoutes(deps), wooSettingsRoutes(deps.db.pool)],
    jobs: [wooConnectJob(deps), wooWebhookJob(deps), wooReconcileJob(deps)],
    adapter: new WooOrderSync({ ...deps, payUrl: (p) => deps.payments.payUrl(p) }),
  };
}
