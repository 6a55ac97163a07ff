import type { z } from 'zod';
import { chooseGateways, connectGateway, type ConnectDeps } from '../core/connections.ts';
import type { Queryable } from '../db/database.ts';
import { listConnections } from '../db/stores-repo.ts';
import { CoinbridgeError, InputError } from '../errors.ts';
import type { GatewayConnection, GatewayName } from '../gateways/types.ts';
import { CONNECT_GATEWAY_HELP, ConnectGatewayBody, GatewayChoiceBody, toConnectInput } from '../http/gateway-inputs.ts';
import { describeIssues } from '../http/validation.ts';
import { iso } from './queries/sql.ts';

/**
 * A merchant's gateway connections as both merchant surfaces (the support console and the
 * Shopify embedded app) show and change them: the same body checks, the same answers, the same
 * words when a gateway refuses. Never a credential, in an answer or an error.
 */

export type ConnectBody = z.infer<typeof ConnectGatewayBody>;
export type ChoiceBody = z.infer<typeof GatewayChoiceBody>;

export interface ConnectionView {
  id: string;
  gateway: GatewayName;
  mode: 'live' | 'sandbox';
  role: 'default' | 'fallback' | 'extra';
  createdAt: string;
  rejectedCallbacks: number;
}

/** How each gateway is named to a person. */
export const GATEWAY_TITLES: Record<GatewayName, string> = { paymento: 'Paymento', 'crypto-checkout': 'Crypto Checkout', cryptonow: 'CryptoNow' };

/** The store's connections, default first, then fallback, then the rest (newest first). */
export async function connectionViews(q: Queryable, storeId: string): Promise<ConnectionView[]> {
  return (await listConnections(q, storeId)).map((c) => ({
    id: c.id, gateway: c.gateway, mode: c.mode, role: c.role, createdAt: iso(c.createdAt)!, rejectedCallbacks: c.rejectedCallbacks,
  }));
}

export function parseConnectBody(raw: unknown): ConnectBody {
  const parsed = ConnectGatewayBody.safeParse(raw);
  if (!parsed.success) throw new InputError('invalid_gateway', `The gateway connection is not valid; see details. ${CONNECT_GATEWAY_HELP}`, 422, describeIssues(parsed.error));
  return parsed.data;
}

export function parseChoiceBody(raw: unknown): ChoiceBody {
  const parsed = GatewayChoiceBody.safeParse(raw);
  if (!parsed.success) {
    throw new InputError('invalid_gateway_choice',
      'Send {defaultId, fallbackId}: the id of the connection that serves new payments, and the id of the one that takes over when it fails (or null for none).',
      422, describeIssues(parsed.error));
  }
  return parsed.data;
}

/**
 * Connects a gateway for a store. The gateway's own refusal (wrong keys, a refused callback URL)
 * or silence is turned into an answer the merchant can act on: which gateway, what it said,
 * that nothing was saved, and what to check. The gateway's raw answer stays out of it (an
 * upstream error's details carry the gateway's response body).
 */
export async function connectForStore(deps: ConnectDeps, storeId: string, body: ConnectBody,
  inTransaction?: (tx: Queryable, conn: GatewayConnection) => Promise<void>): Promise<GatewayConnection> {
  try {
    return await connectGateway(deps, toConnectInput(storeId, body), inTransaction);
  } catch (err) {
    throw explainConnectFailure(body, err);
  }
}

function explainConnectFailure(body: ConnectBody, err: unknown): unknown {
  // Our own checks (missing keys, a refused instance URL) already say what to do.
  if (err instanceof InputError || !(err instanceof CoinbridgeError)) return err;
  const name = GATEWAY_TITLES[body.gateway];
  const said = err.message.replace(/[.\s]+$/, '');
  const details = { gateway: body.gateway, gatewayCode: err.code };
  if (err.retryable) {
    return new CoinbridgeError('gateway_unreachable',
      `${name} could not be reached to check the connection (${said}). Nothing was saved; try again in a minute.`,
      { status: 502, retryable: true, details });
  }
  const check = body.gateway === 'crypto-checkout' ? 'the instance URL, API key and webhook secret'
    : body.gateway === 'cryptonow' ? 'the public and private keys' : 'the API key and IPN secret';
  return new InputError('gateway_connection_refused', `${name} refused the connection: ${said}. Nothing was saved; check ${check} and try again.`, 422, details);
}

type ServingPick = { id: string; gateway: GatewayName; mode: 'live' | 'sandbox' } | null;

/** Which connections serve the store now (ids with their gateway and mode, for the audit log). */
async function servingChoice(q: Queryable, storeId: string): Promise<{ default: ServingPick; fallback: ServingPick }> {
  const { rows } = await q.query(
    'SELECT id, gateway, mode, is_default FROM gateway_connections WHERE store_id = $1 AND (is_default OR is_fallback) AND disabled_at IS NULL', [storeId]);
  const pick = (r: Record<string, any> | undefined): ServingPick => (r ? { id: r.id, gateway: r.gateway, mode: r.mode } : null);
  return { default: pick(rows.find((r) => r.is_default)), fallback: pick(rows.find((r) => !r.is_default)) };
}

/** The merchant's default + fallback choice, inside the caller's transaction: what served before, and what serves now. */
export async function chooseForStore(tx: Queryable, storeId: string, choice: ChoiceBody): Promise<{ from: Awaited<ReturnType<typeof servingChoice>>; to: Awaited<ReturnType<typeof servingChoice>> }> {
  const from = await servingChoice(tx, storeId);
  await chooseGateways(tx, storeId, choice);
  return { from, to: await servingChoice(tx, storeId) };
}
