import type Koa from 'koa';

export interface StaticAsset {
  /** Content hash: the ETag (and the `?v=` a page may link with). */
  etag: string;
  type: string;
  body: Buffer;
  /** The same bytes gzipped once, ahead of time. */
  gzip: Buffer;
}

/**
 * Sends a small static file held in memory: gzip when the client takes it (a separate ETag per
 * encoding), 304 when the client's copy is current. Caching headers are the caller's.
 */
export function sendStaticAsset(ctx: Koa.Context, asset: StaticAsset): void {
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.vary('Accept-Encoding');
  const gzip = ctx.acceptsEncodings('gzip', 'identity') === 'gzip';
  ctx.set('ETag', `"${asset.etag}${gzip ? '-gz' : ''}"`);
  ctx.type = asset.type;
  ctx.status = 200;
  if (ctx.fresh) {
    ctx.status = 304;
    return;
  }
  if (gzip) ctx.set('Content-Encoding', 'gzip');
  ctx.body = gzip ? asset.gzip : asset.body;
}
