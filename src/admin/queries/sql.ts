/** Which stores a staff member may see: operators all, merchants and support their own. */
export type StoreScope = 'all' | readonly string[];

/** Builds a parameterised statement: every value goes through `p()`, never into the SQL text. */
export class Params {
  readonly values: unknown[] = [];

  p(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/**
 * The SQL condition that keeps a query inside the staff member's stores. An empty list matches
 * nothing. Always applied in SQL, so nothing of another store is ever read into the process.
 */
export function inScope(params: Params, scope: StoreScope, column: string): string {
  if (scope === 'all') return 'TRUE';
  if (scope.length === 0) return 'FALSE';
  return `${column} = ANY(${params.p([...scope])}::uuid[])`;
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function iso(value: Date | string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

/** Shopify's numeric order id from `gid://shopify/Order/123`, or undefined. */
export function shopifyOrderNumber(gid: string): string | undefined {
  return /^gid:\/\/shopify\/Order\/(\d+)$/.exec(gid)?.[1];
}

/** The merchant-facing order number Coinbridge knows: Shopify's name (#1001) or WooCommerce's number. */
export const ORDER_NAME_SQL = (alias: string) => `coalesce(${alias}.metadata ->> 'shopifyOrder', ${alias}.metadata ->> 'orderNumber')`;
