import type Router from '@koa/router';
import type { Config } from '../config.ts';
import type { PaymentService } from '../core/payment-service.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import type { Database } from '../db/database.ts';
import type { GatewayRegistry } from '../gateways/registry.ts';
import type { JobWaker } from '../jobs/queue.ts';
import type { Logger } from '../observability/log.ts';
import type { AdminDeps } from './access.ts';
import { adminApiRoutes } from './api-routes.ts';
import { adminAuthRoutes, prepareSetup } from './auth-routes.ts';
import { sessionKeyFromConfig } from './session.ts';
import { adminUiRoutes } from './ui-routes.ts';

export type { AdminDeps } from './access.ts';

/**
 * The support console: sign-in and staff accounts (auth-routes), its JSON API under /v1/admin
 * (api-routes) and its pages under /admin (ui-routes). Prints a one-time setup token while no
 * operator exists.
 */
export async function adminModule(deps: {
  db: Database; box: SecretBox; log: Logger; config: Config; payments: PaymentService; waker: JobWaker;
  /** The app's gateway registry, for connecting gateways from the console. */
  gateways: GatewayRegistry;
}): Promise<{ routers: Router[] }> {
  const { db, box, log, config, payments, waker, gateways } = deps;
  const publicUrl = config.publicUrl;
  const access: AdminDeps = { db, box, log, config, payments, waker, publicUrl, sessionKey: sessionKeyFromConfig(config) };
  await prepareSetup(access);
  return {
    routers: [
      adminAuthRoutes(access),
      adminApiRoutes({ db, box, payments, waker, log, publicUrl, access, gateways }),
      adminUiRoutes({ publicUrl }),
    ],
  };
}
