import { assertUnreachable } from '../../errors.ts';
import { cryptoCheckoutSandboxSkin } from '../crypto-checkout/sandbox-skin.ts';
import { cryptoNowSandboxSkin } from '../cryptonow/sandbox-skin.ts';
import { paymentoSandboxSkin } from '../paymento/sandbox-skin.ts';
import { GATEWAY_NAMES, type GatewayName } from '../types.ts';
import type { SandboxSkin } from './skin.ts';

/** Every gateway has a sandbox: a store can try any of them with no crypto and no network. */
export function sandboxSkin(gateway: GatewayName): SandboxSkin {
  switch (gateway) {
    case 'paymento': return paymentoSandboxSkin;
    case 'crypto-checkout': return cryptoCheckoutSandboxSkin;
    case 'cryptonow': return cryptoNowSandboxSkin;
    default: return assertUnreachable(gateway, 'gateway');
  }
}

export const SANDBOX_SKINS: readonly SandboxSkin[] = GATEWAY_NAMES.map(sandboxSkin);
