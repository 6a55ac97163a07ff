import { hmacSha256 } from '../../crypto/signatures.ts';
import { withTransaction, type Database } from '../../db/database.ts';
import { UpstreamError, UpstreamRefusal } from '../../errors.ts';
import { enqueueJob, type JobHandler } from '../../jobs/queue.ts';
import type { PaymentoIpn } from '../paymento/protocol.ts';
import { fakeTxHash, percentOf, type ScenarioStep } from './scenarios.ts';
import { findSandboxAccount, findSandboxPayment, updateSandboxPayment } from './sandbox-store.ts';

export interface StepJobData {
  token: string;
  steps: ScenarioStep[];
  /** Pause before the next step, so each IPN is seen on its own as on a real chain. */
  stepDelayMs: number;
}

/**
 * Plays one step of a sandbox scenario: moves the sandbox payment, then POSTs the signed IPN the
 * way Paymento does (uppercase hex HMAC of the raw body). A receiver that fails makes the job
 * retry with backoff, like Paymento's own redelivery.
 */
export function sandboxIpnJob(db: Database, opts: { callbackOrigin: () => string; publicUrl: string }): JobHandler<StepJobData> {
  return {
    name: 'sandbox.deliver-ipn',
    maxAttempts: 8,
    async run(data) {
      const [step, ...rest] = data.steps;
      if (!step) return;
      const payment = await findSandboxPayment(db.pool, data.token);
      if (!payment) return;
      await updateSandboxPayment(db.pool, data.token, {
        status: step.status,
        ...(step.receivedPercent === undefined ? {} : { receivedCrypto: percentOf(payment.expectedCrypto, step.receivedPercent), txHash: payment.txHash ?? fakeTxHash() }),
      });
      const account = await findSandboxAccount(db.pool, payment.apiKey);
      if (account?.ipnUrl) {
        const ipn: PaymentoIpn = {
          Token: payment.token, PaymentId: Number(payment.paymentId), OrderId: payment.orderId ?? '', OrderStatus: step.status,
          AdditionalData: payment.additionalData,
        };
        const raw = JSON.stringify(ipn);
        const target = ownCallbackUrl(account.ipnUrl, opts.publicUrl, opts.callbackOrigin());
        let res: Response;
        try {
          res = await fetch(target, {
            method: account.ipnMethod === 2 ? 'PUT' : 'POST',
            headers: { 'content-type': 'application/json', 'x-hmac-sha256-signature': hmacSha256(account.secret, raw).toString('hex').toUpperCase() },
            body: raw,
            redirect: 'manual',
            signal: AbortSignal.timeout(10_000),
          });
        } catch (err) {
          throw new UpstreamError('ipn_undelivered', `sandbox IPN to ${target} failed: ${(err as Error).message}`);
        }
        if (res.status !== 200) throw new UpstreamError('ipn_undelivered', `sandbox IPN to ${target} answered ${res.status}`);
      }
      if (rest.length > 0) {
        await withTransaction(db.pool, (tx) => enqueueJob(tx, { name: 'sandbox.deliver-ipn', data: { ...data, steps: rest }, runAt: new Date(Date.now() + data.stepDelayMs) }));
      }
    },
  };
}

/**
 * The sandbox only ever calls back into this Coinbridge (never an arbitrary address someone set
 * through its API), and does so over loopback.
 */
export function ownCallbackUrl(ipnUrl: string, publicUrl: string, internalOrigin: string): string {
  for (const base of [publicUrl, internalOrigin]) {
    if (ipnUrl.startsWith(`${base}/ipn/`)) return `${internalOrigin}${ipnUrl.slice(base.length)}`;
  }
  throw new UpstreamRefusal('ipn_url_refused', `sandbox refuses to call ${ipnUrl}: only this Coinbridge's /ipn/ URLs are allowed`);
}
