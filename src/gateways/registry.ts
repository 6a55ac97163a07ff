import { assertUnreachable } from '../errors.ts';
import { PaymentoAdapter } from './paymento/adapter.ts';
import type { GatewayAdapter, GatewayConnection, GatewayName } from './types.ts';

export interface GatewayOrigins {
  paymento: { api: string; gateway: string };
  /** How this process reaches its own sandbox (loopback, known once listening). */
  sandboxApi: () => string;
  /** How a shopper's browser reaches the sandbox pay page. */
  sandboxPublic: string;
  timeoutMs: number;
}

export class GatewayRegistry {
  readonly paymento: PaymentoAdapter;

  constructor(origins: GatewayOrigins) {
    this.paymento = new PaymentoAdapter((conn) =>
      conn.mode === 'sandbox'
        ? { api: `${origins.sandboxApi()}/sandbox/paymento`, gateway: `${origins.sandboxPublic}/sandbox/paymento` }
        : origins.paymento,
      { timeoutMs: origins.timeoutMs },
    );
  }

  adapterFor(conn: Pick<GatewayConnection, 'gateway'>): GatewayAdapter {
    return this.byName(conn.gateway);
  }

  byName(name: GatewayName): GatewayAdapter {
    switch (name) {
      case 'paymento':
        return this.paymento;
      default:
        return assertUnreachable(name, 'gateway');
    }
  }

  has(name: string): name is GatewayName {
    return name === 'paymento';
  }
}
