import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import type pino from 'pino';
import { adminModule } from './admin/module.ts';
import type { Config } from './config.ts';
import { LiveUpdates } from './checkout/live-updates.ts';
import { checkoutRoutes } from './checkout/routes.ts';
import { widgetRoutes } from './checkout/widget-files.ts';
import { CallbackIngest } from './core/callback-ingest.ts';
import { PaymentService } from './core/payment-service.ts';
import { loadSecretBox, type SecretBox } from './crypto/secret-box.ts';
import { openDatabase, type Database } from './db/database.ts';
import { migrate } from './db/migrate.ts';
import { demoRoutes } from './demo/routes.ts';
import { seedDemo } from './demo/seed.ts';
import { GatewayRegistry } from './gateways/registry.ts';
import { sandboxIpnJob } from './gateways/sandbox/ipn-delivery.ts';
import { sandboxRoutes } from './gateways/sandbox/routes.ts';
import { errorHandler } from './http/errors.ts';
import { rateLimit, type RateLimitGroup } from './http/rate-limit.ts';
import { healthRoutes } from './http/routes/health.ts';
import { ipnRoutes } from './http/routes/ipn.ts';
import { payRoutes } from './http/routes/pay.ts';
import { paymentRoutes } from './http/routes/payments.ts';
import { expiryCheckJob, reconcileJob, verifyPaymentJob } from './jobs/payment-jobs.ts';
import { createJobRunner, createJobWaker, type JobRunner } from './jobs/queue.ts';
import { createLogger, type Logger } from './observability/log.ts';
import { storeSyncJob } from './jobs/store-sync.ts';
import { shopifyModule } from './platforms/shopify/module.ts';
import { wooCommerceModule } from './platforms/woocommerce/module.ts';
import { Metrics } from './observability/metrics.ts';

export interface Coinbridge {
  config: Config;
  /** Where this process listens, e.g. http://127.0.0.1:3000 */
  url: string;
  db: Database;
  box: SecretBox;
  log: Logger;
  gateways: GatewayRegistry;
  payments: PaymentService;
  /** Payment changes, fanned out to this process's live checkout views. */
  live: LiveUpdates;
  jobs: JobRunner | undefined;
  demoStoreId: string | undefined;
  close(): Promise<void>;
}

/**
 * Public endpoints limited per client IP (DESIGN §4). Not the callbacks (IPN, Shopify and
 * WooCommerce webhooks: their senders retry, and a refused delivery may be lost) nor the
 * authenticated API.
 */
const PUBLIC_ROUTE_GROUPS: RateLimitGroup[] = [
  { name: 'checkout', path: /^\/v1\/checkout\//i, cors: true },
  { name: 'pay', path: /^\/pay\//i },
  { name: 'widget', path: /^\/widget(\.js$|\/)/i, cors: true },
  { name: 'shopify-extension', path: /^\/shopify\/extension\/payment\/?$/i, cors: true },
  { name: 'woocommerce-connect', path: /^\/woocommerce\/(connect|claim)\/?$/i },
  // Console sign-in (on top of the per-account lockout: this slows guessing across accounts).
  { name: 'admin-sign-in', path: /^\/(v1\/admin\/(session|setup)|admin\/shopify)\/?$/i },
];

/** The composition root: builds every part from the config and starts serving. */
export async function startCoinbridge(config: Config, opts: { logDestination?: pino.DestinationStream } = {}): Promise<Coinbridge> {
  const log = createLogger(config.logLevel, opts.logDestination);
  const db = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, poolSize: config.databasePoolSize, log });
  try {
    await migrate(db.pool, log);
  } catch (err) {
    await db.close();
    throw err;
  }
  const box = loadSecretBox({ encryptionKey: config.encryptionKey, dataDir: config.dataDir, production: config.env === 'production', log });
  const metrics = new Metrics(db.pool);
  let internalOrigin = '';
  const gateways = GatewayRegistry.fromConfig(config, () => internalOrigin);
  const { waker, localChannel } = createJobWaker(db, log);
  const payments = new PaymentService({ db, box, gateways, log, metrics, publicUrl: config.publicUrl, waker });
  const ingest = new CallbackIngest({ db, box, gateways, log, metrics, waker });
  let demoStoreId: string | undefined;

  const shopify = await shopifyModule({
    db, box, payments, gateways, log, metrics, waker, publicUrl: config.publicUrl, allowPrivateUrls: config.allowPrivateUrls,
    adminOrigin: config.shopify.adminOrigin, apiKey: config.shopify.apiKey, apiSecret: config.shopify.apiSecret,
  });
  const woo = wooCommerceModule({
    db, box, payments, log, metrics, waker, publicUrl: config.publicUrl, allowPrivate: config.allowPrivateUrls, timeoutMs: config.gatewayTimeoutMs,
  });

  const admin = await adminModule({ db, box, log, config, payments, waker, gateways });

  const live = new LiveUpdates(db, { databaseUrl: config.databaseUrl, log });
  await live.start();

  const app = new Koa();
  app.use(errorHandler(log));
  app.use(rateLimit(config.rateLimitPerMinute, PUBLIC_ROUTE_GROUPS));
  for (const router of [
    healthRoutes({ pool: db.pool, metrics }),
    ipnRoutes(ingest),
    paymentRoutes({ pool: db.pool, payments }),
    payRoutes(db.pool),
    checkoutRoutes({ pool: db.pool, live, log }),
    widgetRoutes(),
    sandboxRoutes(db, { stepDelayMs: 400, waker, publicUrl: config.publicUrl }),
    ...shopify.routers,
    ...woo.routers,
    ...admin.routers,
    ...(config.seedDemo ? [demoRoutes({ pool: db.pool, payments, storeId: () => demoStoreId, publicUrl: config.publicUrl })] : []),
  ]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }

  const server = http.createServer(app.callback());
  server.keepAliveTimeout = 65_000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
  } catch (err) {
    await live.close();
    await db.close();
    throw err;
  }
  const { port } = server.address() as AddressInfo;
  internalOrigin = `http://127.0.0.1:${port}`;
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;

  let jobs: JobRunner | undefined;
  if (config.role !== 'web') {
    jobs = createJobRunner(db, {
      log, pollMs: config.jobPollMs, lockLifetimeMs: config.jobLockLifetimeMs, name: `coinbridge-${process.pid}`, waker, localChannel,
      handlers: [
        verifyPaymentJob(payments),
        expiryCheckJob(payments, db),
        reconcileJob(db, { staleAfterMs: 2 * 60_000, batch: 500, waker }),
        sandboxIpnJob(db, { callbackOrigin: () => internalOrigin, publicUrl: config.publicUrl }),
        storeSyncJob(db, [shopify.adapter, woo.adapter], { leaseMs: config.jobLockLifetimeMs }),
        ...shopify.jobs,
        ...woo.jobs,
      ],
    });
    await jobs.start();
    await jobs.agenda.every(config.reconcileEvery, 'payments.reconcile', {});
    await jobs.agenda.every(config.reconcileEvery, 'woocommerce.reconcile', {});
  }

  if (config.seedDemo) {
    const store = await seedDemo({ db, box, gateways, publicUrl: config.publicUrl, dataDir: config.dataDir, log });
    demoStoreId = store.id;
  }

  log.info({ url, publicUrl: config.publicUrl, role: config.role, database: db.embedded ? 'embedded' : 'server' }, 'Coinbridge is listening');
  let closed = false;
  return {
    config, url, db, box, log, gateways, payments, live, jobs, demoStoreId,
    async close() {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await jobs?.stop();
      await live.close();
      await db.close();
    },
  };
}
