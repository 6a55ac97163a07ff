import { z } from 'zod';
import type { ConnectionRole } from '../core/connections.ts';
import { GATEWAY_NAMES, type ConnectionMode, type GatewayCredentials, type GatewayName } from '../gateways/types.ts';

const secret = z.string().trim().min(8).max(500);

/**
 * What a merchant sends to connect a gateway, wherever they do it (Shopify settings page, support
 * console). `sandbox` needs nothing else; `live` needs the gateway's keys, and Crypto Checkout
 * (self-hosted) the address of the merchant's instance.
 */
export const ConnectGatewayBody = z.object({
  gateway: z.enum(GATEWAY_NAMES).default('paymento'),
  mode: z.enum(['sandbox', 'live']),
  apiKey: secret.optional(),
  ipnSecret: secret.optional(),
  instanceUrl: z.string().trim().max(2048).optional(),
  role: z.enum(['default', 'fallback', 'extra']).default('default'),
}).strict().superRefine((v, ctx) => {
  if (v.mode !== 'live') return;
  if (!v.apiKey) ctx.addIssue({ code: 'custom', path: ['apiKey'], message: `the ${v.gateway} API key (CryptoNow: public key) is required for live mode` });
  if (!v.ipnSecret) ctx.addIssue({ code: 'custom', path: ['ipnSecret'], message: 'the callback secret (Paymento IPN secret, Crypto Checkout webhook secret, CryptoNow private key) is required for live mode' });
  if (v.gateway === 'crypto-checkout' && !v.instanceUrl) ctx.addIssue({ code: 'custom', path: ['instanceUrl'], message: 'Crypto Checkout is self-hosted: the https address of your instance is required' });
});

export const CONNECT_GATEWAY_HELP = 'Send {gateway: "paymento"|"crypto-checkout"|"cryptonow", mode: "sandbox"} or mode "live" with apiKey and ipnSecret (and instanceUrl for Crypto Checkout); role is "default", "fallback" or "extra".';

export function toConnectInput(storeId: string, body: z.infer<typeof ConnectGatewayBody>):
  { storeId: string; gateway: GatewayName; mode: ConnectionMode; role: ConnectionRole; credentials?: GatewayCredentials } {
  return {
    storeId, gateway: body.gateway, mode: body.mode, role: body.role,
    ...(body.mode === 'live' ? { credentials: { apiKey: body.apiKey!, ipnSecret: body.ipnSecret!, ...(body.instanceUrl ? { apiOrigin: body.instanceUrl } : {}) } } : {}),
  };
}

/** The merchant's pick: the connection that serves new payments, and the one that takes over (or none). */
export const GatewayChoiceBody = z.object({
  defaultId: z.uuid(),
  fallbackId: z.uuid().nullable(),
}).strict();
