/**
 * The built-in sandbox plays every gateway, reached through that gateway's own adapter over real
 * HTTP, and passes the same conformance suite as the gateway's emulator: a store can trust what
 * it sees in sandbox mode, whichever gateway it tries.
 */
import type { ReportedStatus } from '../../src/core/gateway-facts.ts';
import { connectGateway } from '../../src/core/connections.ts';
import { createStore } from '../../src/db/stores-repo.ts';
import { percentOf } from '../../src/gateways/sandbox/scenarios.ts';
import { failSandboxVerify, findSandboxAccount, findSandboxPayment, updateSandboxPayment, type SandboxPayment } from '../../src/gateways/sandbox/sandbox-store.ts';
import { sandboxSkin } from '../../src/gateways/sandbox/skins.ts';
import type { GatewayName } from '../../src/gateways/types.ts';
import { startTestApp } from '../support/harness.ts';
import { runGatewayConformance, type ConformanceTarget, type ConformanceTraits, type Situation } from './conformance.ts';

/** The sandbox's state machine speaks Paymento codes; each skin translates them. */
const STATUS_FOR: Record<Situation, number> = { pending: 1, confirming: 3, underpaid: 2, paid: 7, overpaid: 7, paid_late: 7, expired: 4, cancelled: 5, rejected: 9 };
const RECEIVED_PERCENT: Record<Situation, number> = { pending: 0, confirming: 100, underpaid: 50, paid: 100, overpaid: 110, paid_late: 100, expired: 0, cancelled: 0, rejected: 0 };

interface Plan {
  traits: ConformanceTraits;
  documented: ReadonlyArray<readonly [string | number, ReportedStatus]>;
}

const PLANS: Record<GatewayName, Plan> = {
  paymento: {
    traits: { hexSignatures: true },
    documented: [[0, 'created'], [1, 'pending'], [2, 'underpaid'], [3, 'confirming'], [4, 'expired'], [5, 'cancelled'], [6, 'unknown'], [7, 'paid'], [8, 'paid'], [9, 'rejected']],
  },
  'crypto-checkout': {
    traits: { situations: ['pending', 'confirming', 'underpaid', 'paid', 'overpaid', 'paid_late', 'expired', 'rejected'], signatureToleranceSeconds: 300, idempotentCreate: true },
    documented: [['pending', 'pending'], ['detected', 'confirming'], ['paid', 'paid'], ['underpaid', 'underpaid'], ['overpaid', 'paid'],
      ['paid_late', 'paid'], ['expired', 'expired'], ['failed', 'rejected']],
  },
  cryptonow: {
    traits: { situations: ['pending', 'paid', 'expired'], hexSignatures: true },
    documented: [['payment.created', 'pending'], ['session.active', 'pending'], ['payment.success', 'paid'], ['session.closed', 'expired']],
  },
};

/** The sandbox payment as it would be once in `situation` (a paid_late one expired first). */
function inSituation(payment: SandboxPayment, situation: Situation): SandboxPayment {
  return {
    ...payment, status: STATUS_FOR[situation], receivedCrypto: percentOf(payment.expectedCrypto, RECEIVED_PERCENT[situation]),
    expiredOnce: payment.expiredOnce || situation === 'paid_late' || situation === 'expired',
  };
}

async function sandboxTarget(gateway: GatewayName): Promise<ConformanceTarget> {
  const t = await startTestApp({ GATEWAY_TIMEOUT_MS: '2000' });
  const { db, box, gateways, config } = t.app;
  const store = await createStore(db.pool, { name: `Conformance store (${gateway})` });
  const connection = await connectGateway({ db, box, gateways, publicUrl: config.publicUrl }, { storeId: store.id, gateway, mode: 'sandbox' });
  const account = (await findSandboxAccount(db.pool, connection.credentials.apiKey, gateway))!;
  const skin = sandboxSkin(gateway);
  return {
    adapter: gateways.adapterFor(connection),
    connection,
    badConnection: { ...connection, id: crypto.randomUUID(), credentials: { apiKey: `${connection.credentials.apiKey.slice(0, 8)}wrong0000`, ipnSecret: 'another-secret-entirely' } },
    callbackUrl: `${config.publicUrl}/ipn/${gateway}/${connection.id}`,
    documentedStatuses: PLANS[gateway].documented,
    driver: {
      async settle(token, situation) {
        const payment = (await findSandboxPayment(db.pool, token))!;
        if (situation === 'paid_late') await updateSandboxPayment(db.pool, token, { status: 4 });
        const target = inSituation(payment, situation);
        await updateSandboxPayment(db.pool, token, { status: target.status, receivedCrypto: target.receivedCrypto });
      },
      async signedCallback(token, situation, opts = {}) {
        const payment = (await findSandboxPayment(db.pool, token))!;
        const cb = skin.callback(inSituation(payment, situation), account, opts.signedAt ?? new Date());
        if (!cb) throw new Error(`the ${gateway} sandbox sends no callback for ${situation}`);
        return { rawBody: Buffer.from(cb.body), headers: cb.headers };
      },
      async failStatus(count, mode) {
        await failSandboxVerify(db.pool, account.apiKey, count, mode);
      },
    },
    close: () => t.close(),
  };
}

for (const gateway of Object.keys(PLANS) as GatewayName[]) {
  runGatewayConformance(`${gateway} adapter against the built-in sandbox playing ${gateway}`, () => sandboxTarget(gateway), PLANS[gateway].traits);
}
