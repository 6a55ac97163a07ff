import type Koa from 'koa';

interface Bucket {
  tokens: number;
  at: number;
}

/** Most clients remembered per limiter; past this, full (idle) buckets are dropped first. */
const MAX_KEYS = 50_000;

/**
 * Token buckets in memory, one per key: `perMinute` tokens refilled evenly over a minute, with a
 * burst of up to a minute's worth. Per process: with N processes behind a balancer a client may
 * get up to N times the rate, which is fine for the abuse this stops.
 */
export class RateLimiter {
  readonly #capacity: number;
  readonly #perMs: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(perMinute: number, now: () => number = Date.now) {
    this.#capacity = perMinute;
    this.#perMs = perMinute / 60_000;
    this.#now = now;
  }

  /** Takes one token for `key`: 0 when allowed, else the whole seconds to wait for the next one. */
  take(key: string): number {
    const now = this.#now();
    let bucket = this.#buckets.get(key);
    if (bucket) {
      bucket.tokens = Math.min(this.#capacity, bucket.tokens + (now - bucket.at) * this.#perMs);
      bucket.at = now;
    } else {
      if (this.#buckets.size >= MAX_KEYS) this.#evict(now);
      bucket = { tokens: this.#capacity, at: now };
      this.#buckets.set(key, bucket);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.#perMs / 1000));
  }

  get size(): number {
    return this.#buckets.size;
  }

  #evict(now: number): void {
    for (const [key, b] of this.#buckets) {
      if (b.tokens + (now - b.at) * this.#perMs >= this.#capacity) this.#buckets.delete(key);
    }
    // Still full of busy clients: forget the longest-known ones (they get a fresh bucket).
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size < MAX_KEYS * 0.9) break;
      this.#buckets.delete(key);
    }
  }
}

export interface RateLimitGroup {
  name: string;
  /** Matched against the request path, case-insensitively as the router matches. */
  path: RegExp;
  /** Let cross-origin pages read the 429 (the widget's endpoints). */
  cors?: boolean;
}

/**
 * Limits requests per client IP and route group on public endpoints (429 with Retry-After and the
 * usual error envelope). The IP is `ctx.ip`: the socket's address unless `app.proxy` is set, so
 * X-Forwarded-For is not trusted by default. Routes in no group are not limited.
 */
export function rateLimit(perMinute: number, groups: readonly RateLimitGroup[]): Koa.Middleware {
  const limiters = new Map(groups.map((g) => [g.name, new RateLimiter(perMinute)]));
  return async (ctx, next) => {
    const group = groups.find((g) => g.path.test(ctx.path));
    if (!group) return next();
    const wait = limiters.get(group.name)!.take(ctx.ip);
    if (wait === 0) return next();
    ctx.status = 429;
    ctx.set('Retry-After', String(wait));
    ctx.set('Cache-Control', 'no-store');
    if (group.cors) ctx.set('Access-Control-Allow-Origin', '*');
    ctx.body = { error: { code: 'rate_limited', message: `Too many requests from your address; wait ${wait} s and try again.` } };
  };
}
