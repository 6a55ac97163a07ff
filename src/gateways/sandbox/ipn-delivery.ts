import { withTransaction, type Database } from '../../db/database.ts';
import { UpstreamError, UpstreamRefusal } from '../../errors.ts';
import { enqueueJob, type JobHandler } from '../../jobs/queue.ts';
import { fakeTxHash, percentOf, type ScenarioStep } from './scenarios.ts';
import { findSandboxAccount, findSandboxPayment, updateSandboxPayment } from './sandbox-store.ts';
import { sandboxSkin } from './skins.ts';

export interface StepJobData {
  token: string;
  steps: ScenarioStep[];
  /** Pause before the next step, so each IPN is seen on its own as on a real chain. */
  stepDelayMs: number;
}

/**
 * Plays one step of a sandbox scenario: moves the sandbox payment, then sends the signed callback
 * the played gateway would send (its skin builds and signs it). A receiver that fails makes the
 * job retry with backoff, like the gateways' own redelivery.
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
      const account = await findSandboxAccount(db.pool, payment.apiKey, payment.gateway);
      const moved = await findSandboxPayment(db.pool, data.token);
      const callback = account?.ipnUrl && moved ? sandboxSkin(payment.gateway).callback(moved, account, new Date()) : undefined;
      if (account?.ipnUrl && callback) {
        const target = ownCallbackUrl(account.ipnUrl, opts.publicUrl, opts.callbackOrigin());
        let res: Response;
        try {
          res = await fetch(target, { method: callback.method, headers: callback.headers, body: callback.body, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
        } catch (err) {
          throw new UpstreamError('ipn_undelivered', `sandbox callback to ${target} failed: ${(err as Error).message}`);
        }
        if (res.status < 200 || res.status >= 300) throw new UpstreamError('ipn_undelivered', `sandbox callback to ${target} answered ${res.status}`);
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
