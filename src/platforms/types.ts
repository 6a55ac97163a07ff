import type { PaymentRow } from '../db/payments-repo.ts';
import type { Store } from '../db/stores-repo.ts';

/** What one write-back did, for the payment's event log. */
export interface StoreWrite {
  operation: string;
  request: Record<string, unknown>;
  outcome: 'ok' | 'refused';
  response?: Record<string, unknown>;
}

export interface SyncResult {
  /** `skipped`: the store cannot be written to (app uninstalled, disconnected). */
  outcome: 'written' | 'nothing-to-do' | 'skipped';
  reason: string;
  writes: StoreWrite[];
}

/**
 * A store platform's side of the payment (Shopify, WooCommerce): brings the store order in line
 * with the payment's current status. Must be idempotent — it reads the order first and writes
 * only what is missing — because jobs retry and transitions can queue it more than once.
 */
export interface PlatformAdapter {
  readonly platform: Exclude<Store['platform'], 'direct'>;
  syncOrder(payment: PaymentRow, store: Store, opts: { atExpiry: boolean }): Promise<SyncResult>;
}
