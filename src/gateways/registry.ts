import type { Config } from '../config.ts';
import { assertUnreachable } from '../errors.ts';
import { CryptoCheckoutAdapter } from './crypto-checkout/adapter.ts';
import { CryptoNowAdapter } from './cryptonow/adapter.ts';
import { MerchantHosts } from './http-client.ts';
import { PaymentoAdapter } from './paymento/adapter.ts';
import { GATEWAY_NAMES, type GatewayAdapter, type GatewayConnection, type GatewayName } from './types.ts';

export interface GatewayOrigins {
  paymento: { api: string; gateway: string };
  /** CryptoNow's API origin (CRYPTONOW_API_ORIGIN). */
  cryptonow?: { api: string } | undefined;
  /** How this process reaches its own sandbox (loopback, known once listening). */
  sandboxApi: () => string;
  /** How a shopper's browser reaches the sandbox pay page. */
  sandboxPublic: string;
  timeoutMs: number;
  /** ALLOW_PRIVATE_URLS: merchant-named hosts may then resolve to private addresses (development, tests). */
  allowPrivateUrls: boolean;
}

/** Where each gateway's API lives; a sandbox connection always talks to this process's own sandbox. */
export class GatewayRegistry {
  readonly paymento: PaymentoAdapter;
  readonly cryptoCheckout: CryptoCheckoutAdapter;
  readonly cryptonow: CryptoNowAdapter;

  constructor(origins: GatewayOrigins) {
    const sandbox = (gateway: GatewayName) => `${origins.sandboxApi()}/sandbox/${gateway}`;
    this.paymento = new PaymentoAdapter((conn) =>
      conn.mode === 'sandbox'
        ? { api: sandbox('paymento'), gateway: `${origins.sandboxPublic}/sandbox/paymento` }
        : origins.paymento,
      { timeoutMs: origins.timeoutMs },
    );
    // Crypto Checkout is self-hosted: each live connection names the merchant's own instance,
    // so its calls are judged against the SSRF guard at every connect.
    const merchantHosts = new MerchantHosts({ allowPrivate: origins.allowPrivateUrls });
    this.cryptoCheckout = new CryptoCheckoutAdapter((conn) => {
      if (conn.mode === 'sandbox') return sandbox('crypto-checkout');
      if (!conn.credentials.apiOrigin) throw new Error('a live Crypto Checkout connection needs the instance URL (credentials.apiOrigin)');
      return conn.credentials.apiOrigin.replace(/\/+$/, '');
    }, { timeoutMs: origins.timeoutMs, viaFor: (conn) => (conn.mode === 'sandbox' ? undefined : merchantHosts) });
    this.cryptonow = new CryptoNowAdapter((conn) =>
      conn.mode === 'sandbox' ? sandbox('cryptonow') : (origins.cryptonow?.api ?? 'https://cryptnow.io'),
    { timeoutMs: origins.timeoutMs });
  }

  /** The deployment's registry: live origins from the config, the sandbox reached at `sandboxApi()`. */
  static fromConfig(config: Pick<Config, 'paymento' | 'cryptonow' | 'publicUrl' | 'gatewayTimeoutMs' | 'allowPrivateUrls'>, sandboxApi: () => string): GatewayRegistry {
    return new GatewayRegistry({
      paymento: { api: config.paymento.apiOrigin, gateway: config.paymento.gatewayOrigin }, cryptonow: { api: config.cryptonow.apiOrigin },
      sandboxApi, sandboxPublic: config.publicUrl, timeoutMs: config.gatewayTimeoutMs, allowPrivateUrls: config.allowPrivateUrls,
    });
  }

  adapterFor(conn: Pick<GatewayConnection, 'gateway'>): GatewayAdapter {
    return this.byName(conn.gateway);
  }

  byName(name: GatewayName): GatewayAdapter {
    switch (name) {
      case 'paymento':
        return this.paymento;
      case 'crypto-checkout':
        return this.cryptoCheckout;
      case 'cryptonow':
        return this.cryptonow;
      default:
        return assertUnreachable(name, 'gateway');
    }
  }

  has(name: string): name is GatewayName {
    return (GATEWAY_NAMES as readonly string[]).includes(name);
  }
}
