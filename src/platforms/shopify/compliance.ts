import { withTransaction, type Database } from '../../db/database.ts';
import { markUninstalled } from './shops.ts';

/**
 * Shopify's privacy topics, done for real. Personal data Coinbridge holds for a Shopify shop:
 * the customer's email and id on its orders and payments, and the order payloads in the webhook
 * inbox. Amounts, statuses and transaction hashes are the merchant's accounting records, not
 * personal data, and stay.
 */

const REDACTED_BODY = Buffer.from('{"redacted":true}');

interface CustomerRef { gid: string | null; email: string | null; orderGids: string[] }

export function customerRefOf(payload: Record<string, any>, ordersKey: 'orders_requested' | 'orders_to_redact'): CustomerRef {
  const c = payload.customer ?? {};
  const ids: unknown[] = Array.isArray(payload[ordersKey]) ? payload[ordersKey] : [];
  return {
    gid: c.id !== undefined && c.id !== null ? `gid://shopify/Customer/${String(c.id)}` : null,
    email: typeof c.email === 'string' && c.email !== '' ? c.email : null,
    orderGids: ids.map((id) => `gid://shopify/Order/${String(id)}`),
  };
}

const MATCH_ORDERS = `o.shop_domain = $1 AND (o.order_gid = ANY($2::text[]) OR o.customer_gid = $3 OR lower(o.customer_email) = lower($4))`;

/** customers/data_request: everything held about the customer, kept for the merchant to fetch. */
export async function exportCustomerData(db: Database, shop: string, payload: Record<string, any>): Promise<string> {
  const ref = customerRefOf(payload, 'orders_requested');
  const { rows } = await db.pool.query(
    `SELECT o.order_gid, o.order_name, o.customer_gid, o.customer_email, o.cancelled_at, p.ref, p.status, p.amount_minor, p.currency,
            p.customer_email AS payment_email, p.crypto_coin, p.crypto_received, p.tx_hash, p.network, p.created_at
     FROM shopify_orders o LEFT JOIN payments p ON p.id = o.payment_id WHERE ${MATCH_ORDERS} ORDER BY o.created_at`,
    [shop, ref.orderGids, ref.gid, ref.email],
  );
  const exported = {
    customer: { id: ref.gid, email: ref.email },
    orders: rows.map((r) => ({
      order: r.order_gid, name: r.order_name, customerId: r.customer_gid, email: r.customer_email ?? r.payment_email, cancelledAt: r.cancelled_at,
      payment: r.ref ? { ref: r.ref, status: r.status, amountMinor: String(r.amount_minor), currency: r.currency, coin: r.crypto_coin,
        received: r.crypto_received, txHash: r.tx_hash, network: r.network, createdAt: r.created_at } : null,
    })),
  };
  await db.pool.query('INSERT INTO shopify_data_requests (shop_domain, request_id, customer_gid, export) VALUES ($1, $2, $3, $4)',
    [shop, payload.data_request?.id !== undefined ? String(payload.data_request.id) : null, ref.gid, JSON.stringify(exported)]);
  return `exported ${rows.length} order(s) for the merchant`;
}

/** customers/redact: the customer's email and id go, from orders, payments and stored payloads. */
export async function redactCustomer(db: Database, shop: string, payload: Record<string, any>): Promise<string> {
  const ref = customerRefOf(payload, 'orders_to_redact');
  return withTransaction(db.pool, async (tx) => {
    const { rows } = await tx.query(`SELECT o.order_gid, o.payment_id FROM shopify_orders o WHERE ${MATCH_ORDERS}`, [shop, ref.orderGids, ref.gid, ref.email]);
    const orderGids = [...new Set([...ref.orderGids, ...rows.map((r) => r.order_gid as string)])];
    const paymentIds = rows.map((r) => r.payment_id).filter(Boolean);
    await tx.query('UPDATE shopify_orders SET customer_gid = NULL, customer_email = NULL WHERE shop_domain = $1 AND order_gid = ANY($2::text[])', [shop, orderGids]);
    await tx.query('UPDATE payments SET customer_email = NULL WHERE id = ANY($1::uuid[])', [paymentIds]);
    await tx.query(
      `UPDATE shopify_webhook_inbox SET raw_body = $3
       WHERE shop_domain = $1 AND topic IN ('orders/create', 'orders/cancelled')
         AND convert_from(raw_body, 'UTF8')::jsonb ->> 'admin_graphql_api_id' = ANY($2::text[])`,
      [shop, orderGids, REDACTED_BODY],
    );
    // The compliance payloads themselves name the customer (this very request included).
    await tx.query(
      `UPDATE shopify_webhook_inbox SET raw_body = $2 WHERE shop_domain = $1 AND topic IN ('customers/redact', 'customers/data_request')
         AND (convert_from(raw_body, 'UTF8')::jsonb -> 'customer' ->> 'id') = $3`,
      [shop, REDACTED_BODY, ref.gid?.split('/').pop() ?? ''],
    );
    if (ref.gid) await tx.query('DELETE FROM shopify_data_requests WHERE shop_domain = $1 AND customer_gid = $2', [shop, ref.gid]);
    return `redacted ${orderGids.length} order(s), ${paymentIds.length} payment(s)`;
  });
}

/** shop/redact (48 h after uninstall): every piece of the shop's personal data goes. */
export async function redactShop(db: Database, shop: string): Promise<string> {
  return withTransaction(db.pool, async (tx) => {
    await markUninstalled(tx, shop);
    const { rows } = await tx.query('SELECT store_id FROM shopify_shops WHERE shop_domain = $1', [shop]);
    const storeId = rows[0]?.store_id ?? null;
    if (storeId) await tx.query('UPDATE payments SET customer_email = NULL WHERE store_id = $1', [storeId]);
    await tx.query('UPDATE shopify_orders SET customer_gid = NULL, customer_email = NULL WHERE shop_domain = $1', [shop]);
    await tx.query('DELETE FROM shopify_data_requests WHERE shop_domain = $1', [shop]);
    await tx.query(`DELETE FROM shopify_webhook_inbox WHERE shop_domain = $1 AND topic <> 'shop/redact'`, [shop]);
    await tx.query('UPDATE shopify_shops SET redacted_at = now() WHERE shop_domain = $1', [shop]);
    return 'shop personal data deleted';
  });
}
