/**
 * The built-in sandbox gateway, reached through the same Paymento adapter over real HTTP, passes
 * the same conformance suite as Paymento itself: a store can trust what it sees in sandbox mode.
 */
import type { ReportedStatus } from '../../src/core/gateway-facts.ts';
import { connectGateway } from '../../src/core/connections.ts';
import { hmacSha256 } from '../../src/crypto/signatures.ts';
import { createStore } from '../../src/db/stores-repo.ts';
import type { PaymentoIpn } from '../../src/gateways/paymento/protocol.ts';
import { percentOf } from '../../src/gateways/sandbox/scenarios.ts';
import { failSandboxVerify, findSandboxAccount, findSandboxPayment, updateSandboxPayment } from '../../src/gateways/sandbox/sandbox-store.ts';
import { startTestApp } from '../support/harness.ts';
import { runGatewayConformance, type ConformanceTarget, type Situation } from './conformance.ts';

const DOCUMENTED: ReadonlyArray<readonly [number, ReportedStatus]> = [
  [0, 'created'], [1, 'pending'], [2, 'underpaid'], [3, 'confirming'], [4, 'expired'],
  [5, 'cancelled'], [6, 'unknown'], [7, 'paid'], [8, 'paid'], [9, 'rejected'],
];
const STATUS_FOR: Record<Situation, number> = { pending: 1, confirming: 3, underpaid: 2, paid: 7, overpaid: 7, expired: 4, cancelled: 5, rejected: 9 };
const RECEIVED_PERCENT: Record<Situation, number> = { pending: 0, confirming: 100, underpaid: 50, paid: 100, overpaid: 110, expired: 0, cancelled: 0, rejected: 0 };

async function sandboxTarget(): Promise<ConformanceTarget> {
  const t = await startTestApp({ GATEWAY_TIMEOUT_MS: '2000' });
  const { db, box, gateways, config } = t.app;
  const store = await createStore(db.pool, { name: 'Conformance store' });
  const connection = await connectGateway({ db, box, gateways, publicUrl: config.publicUrl }, { storeId: store.id, gateway: 'paymento', mode: 'sandbox' });
  const account = (await findSandboxAccount(db.pool, connection.credentials.apiKey))!;
  return {
    adapter: gateways.paymento,
    connection,
    badConnection: { ...connection, id: crypto.randomUUID(), credentials: { apiKey: 'sbx_wrong', ipnSecret: 'another-secret' } },
    callbackUrl: `${config.publicUrl}/ipn/paymento/${connection.id}`,
    documentedStatuses: DOCUMENTED,
    driver: {
      async settle(token, situation) {
        const payment = (await findSandboxPayment(db.pool, token))!;
        await updateSandboxPayment(db.pool, token, { status: STATUS_FOR[situation], receivedCrypto: percentOf(payment.expectedCrypto, RECEIVED_PERCENT[situation]) });
      },
      async signedCallback(token, situation) {
        const payment = (await findSandboxPayment(db.pool, token))!;
        const ipn: PaymentoIpn = { Token: token, PaymentId: Number(payment.paymentId), OrderId: payment.orderId ?? '', OrderStatus: STATUS_FOR[situation], AdditionalData: payment.additionalData };
        const raw = JSON.stringify(ipn);
        return { rawBody: Buffer.from(raw), headers: { 'Content-Type': 'application/json', 'X-HMAC-SHA256-SIGNATURE': hmacSha256(account.secret, raw).toString('hex').toUpperCase() } };
      },
      async failStatus(count, mode) {
        await failSandboxVerify(db.pool, account.apiKey, count, mode);
      },
    },
    close: () => t.close(),
  };
}

runGatewayConformance('Paymento adapter against the built-in sandbox gateway', sandboxTarget);
