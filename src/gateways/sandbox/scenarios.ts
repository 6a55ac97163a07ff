import crypto from 'node:crypto';
import { parseDecimal, decimalToString } from '../../core/money.ts';
import { PAYMENTO_STATUS } from '../paymento/protocol.ts';

/** What the sandbox pay page offers, and which Paymento statuses each one produces, in order. */
export const SANDBOX_ACTIONS = ['choose_coin', 'pay', 'underpay', 'overpay', 'pay_late', 'expire', 'cancel'] as const;
export type SandboxAction = (typeof SANDBOX_ACTIONS)[number];

export interface ScenarioStep {
  status: number;
  /** Received crypto as a fraction of expected, in percent; undefined keeps what was received. */
  receivedPercent?: number;
}

export function scenario(action: SandboxAction): ScenarioStep[] {
  switch (action) {
    case 'choose_coin': return [{ status: PAYMENTO_STATUS.Pending }];
    case 'pay': return [{ status: PAYMENTO_STATUS.WaitingToConfirm, receivedPercent: 100 }, { status: PAYMENTO_STATUS.Paid, receivedPercent: 100 }];
    case 'underpay': return [{ status: PAYMENTO_STATUS.PartialPaid, receivedPercent: 50 }];
    case 'overpay': return [{ status: PAYMENTO_STATUS.WaitingToConfirm, receivedPercent: 120 }, { status: PAYMENTO_STATUS.Paid, receivedPercent: 120 }];
    case 'pay_late': return [{ status: PAYMENTO_STATUS.Timeout }, { status: PAYMENTO_STATUS.Paid, receivedPercent: 100 }];
    case 'expire': return [{ status: PAYMENTO_STATUS.Timeout }];
    case 'cancel': return [{ status: PAYMENTO_STATUS.UserCanceled }];
  }
}

/** `expected * percent / 100`, exactly, at the expected amount's scale. */
export function percentOf(expected: string, percent: number): string {
  const d = parseDecimal(expected);
  if (!d) return '0';
  return decimalToString({ units: (d.units * BigInt(percent)) / 100n, scale: d.scale });
}

export function fakeTxHash(): string {
  return '0x' + crypto.randomBytes(32).toString('hex');
}
