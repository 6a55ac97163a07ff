import client from 'prom-client';
import type pg from 'pg';
import { STORED_STATUSES } from '../core/status.ts';

/** Prometheus metrics for one process; payments by status are read from the database on scrape. */
export class Metrics {
  readonly registry = new client.Registry();
  readonly #received = new client.Counter({ name: 'coinbridge_callbacks_received_total', help: 'Inbound callbacks received', labelNames: ['source'], registers: [this.registry] });
  readonly #rejected = new client.Counter({ name: 'coinbridge_callbacks_rejected_total', help: 'Inbound callbacks refused (signature, body, unknown connection)', labelNames: ['source', 'reason'], registers: [this.registry] });
  readonly #duplicated = new client.Counter({ name: 'coinbridge_callbacks_duplicated_total', help: 'Inbound callbacks acknowledged as duplicates, changing nothing', labelNames: ['source'], registers: [this.registry] });
  readonly #transitions = new client.Counter({ name: 'coinbridge_payment_transitions_total', help: 'Payment status transitions made by this process', labelNames: ['to'], registers: [this.registry] });

  constructor(pool: pg.Pool) {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'coinbridge_' });
    new client.Gauge({
      name: 'coinbridge_payments', help: 'Payments by current status', labelNames: ['status'], registers: [this.registry],
      async collect() {
        const { rows } = await pool.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM payments GROUP BY status');
        const counts = new Map(rows.map((r) => [r.status, Number(r.n)]));
        for (const status of STORED_STATUSES) this.set({ status }, counts.get(status) ?? 0);
      },
    });
  }

  callbackReceived(source: string): void { this.#received.inc({ source }); }
  callbackRejected(source: string, reason: string): void { this.#rejected.inc({ source, reason }); }
  callbackDuplicated(source: string): void { this.#duplicated.inc({ source }); }
  transition(to: string): void { this.#transitions.inc({ to }); }
}
