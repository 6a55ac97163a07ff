import type Router from '@koa/router';
import type Koa from 'koa';
import type { Database } from '../../db/database.ts';
import type { GatewayName } from '../types.ts';
import type { SandboxAction } from './scenarios.ts';
import { takeVerifyFailure, type SandboxAccount, type SandboxPayment } from './sandbox-store.ts';

/**
 * One gateway as the built-in sandbox plays it. The sandbox's engine (accounts, payments, the pay
 * page with its scenario buttons, callback delivery with retries) is shared; a skin supplies what
 * differs per gateway: its merchant API, how it names statuses, and the signed callback it sends.
 * The sandbox's state machine uses Paymento's status codes (PAYMENTO_STATUS); a skin translates.
 */
export interface SandboxSkin {
  readonly gateway: GatewayName;
  /** Pay-page buttons this gateway can express (a wallet that always sends the exact amount cannot underpay). */
  readonly actions: readonly SandboxAction[];
  /** New merchant credentials in this gateway's shape (API key, callback secret, account settings). */
  newAccount(): { apiKey: string; secret: string; extra?: Record<string, unknown> };
  /** The gateway's word for the payment's current state, shown on the pay page. */
  statusName(payment: SandboxPayment): string;
  /** This gateway's merchant API, mounted under `/sandbox/{gateway}` (so its paths start after that prefix). */
  routes(ctx: SandboxSkinContext): Router;
  /**
   * The signed callback this gateway sends now that `payment` reached its current state, or
   * undefined when it sends none for that state. Must give the same bytes for the same state
   * (a redelivery is the same event).
   */
  callback(payment: SandboxPayment, account: SandboxAccount, now: Date): SandboxCallback | undefined;
}

export interface SandboxSkinContext {
  db: Database;
  /** The shopper-facing URL of a sandbox payment's pay page (what the API hands out as the checkout URL). */
  payPageUrl(payment: Pick<SandboxPayment, 'token' | 'gateway'>): string;
}

export interface SandboxCallback {
  method: 'POST' | 'PUT';
  headers: Record<string, string>;
  body: string;
}

/** Longer than any caller's deadline, so a simulated timeout is one. */
export const SIMULATED_HANG_MS = 130_000;

/**
 * Plays an armed outage of a status endpoint (`failSandboxVerify`): '500' answers through
 * `answer500`, 'timeout' hangs until the caller gives up. Returns true when it answered.
 */
export async function playArmedOutage(ctx: Koa.Context, db: Database, apiKey: string, answer500: () => void): Promise<boolean> {
  const failure = await takeVerifyFailure(db.pool, apiKey);
  if (failure === '500') {
    answer500();
    return true;
  }
  if (failure === 'timeout') {
    await new Promise<void>((resolve) => {
      setTimeout(resolve, SIMULATED_HANG_MS).unref();
      ctx.req.socket.once('close', () => resolve());
    });
    ctx.status = 504;
    ctx.body = { error: 'Simulated sandbox timeout' };
    return true;
  }
  return false;
}

/** Sandbox fiat→crypto: stablecoins trade at exactly 1.000000 per unit of any fiat, so amounts stay easy to read. */
export function stablecoinAmount(fiatAmount: string): string {
  const [whole, fraction = ''] = fiatAmount.split('.');
  return `${whole}.${(fraction + '000000').slice(0, 6)}`;
}
