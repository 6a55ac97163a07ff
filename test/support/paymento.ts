import type { MerchantSettings } from '../../src/core/settings.ts';
import { startPaymentoEmulator, type PaymentoEmulator } from '../emulators/paymento/server.ts';
import { createTestStore, startTestApp, type TestApp, type TestStore } from './harness.ts';

export interface WithPaymento {
  emu: PaymentoEmulator;
  t: TestApp;
  /** A store on a live Paymento connection: a fresh emulated merchant account of its own. */
  liveStore(opts?: { settings?: Partial<MerchantSettings>; name?: string }): Promise<TestStore>;
  /** Closes both, also when only one of them got started. */
  close(): Promise<void>;
}

/** A test app whose live Paymento calls go to a Paymento emulator. */
export async function startWithPaymento(opts: { emulator?: Parameters<typeof startPaymentoEmulator>[0]; env?: Record<string, string> } = {}): Promise<WithPaymento> {
  const emu = await startPaymentoEmulator({ verifyShape: 'docs', ...opts.emulator });
  let t: TestApp;
  try {
    t = await startTestApp({ PAYMENTO_API_ORIGIN: emu.origin, PAYMENTO_GATEWAY_ORIGIN: emu.gatewayOrigin, ...opts.env });
  } catch (err) {
    await emu.close();
    throw err;
  }
  return {
    emu,
    t,
    async liveStore(o = {}) {
      const merchant = emu.addMerchant();
      return createTestStore(t, { ...o, live: { apiKey: merchant.apiKey, ipnSecret: merchant.secret } });
    },
    async close() {
      try {
        await t.close();
      } finally {
        await emu.close();
      }
    },
  };
}
