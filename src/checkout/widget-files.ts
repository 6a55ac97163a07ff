import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import Router from '@koa/router';
import type Koa from 'koa';
import { sendStaticAsset } from '../http/static-asset.ts';

/** Where the storefront widget's browser files live (plain JS and CSS, no build step). */
export const WIDGET_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../storefront-widget/src');

/** The only names ever served: one path segment, lowercase, .js or .css. */
const FILE_NAME = /^[a-z0-9-]+\.(js|css)$/;
const TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

interface WidgetFile {
  mtimeMs: number;
  size: number;
  type: string;
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

/**
 * Serves the widget: `GET /widget.js` (the loader stores embed) and `GET /widget/{file}` (what the
 * loader pulls in). A name is served only if it matches FILE_NAME *and* is one of the files the
 * directory lists, so no request path is ever joined into a file path unchecked. Files are read
 * once and re-read when they change; gzip is prepared once per version.
 */
export function widgetRoutes(opts: { dir?: string } = {}): Router {
  const dir = opts.dir ?? WIDGET_DIR;
  const cache = new Map<string, WidgetFile>();

  async function load(name: string): Promise<WidgetFile | undefined> {
    if (!FILE_NAME.test(name)) return undefined;
    const listed = await fs.readdir(dir).catch(() => [] as string[]);
    if (!listed.includes(name)) return undefined;
    const file = path.join(dir, name);
    const stat = await fs.stat(file).catch(() => undefined);
    if (!stat?.isFile()) return undefined;
    const cached = cache.get(name);
    if (cached && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) return cached;
    const body = await fs.readFile(file).catch(() => undefined);
    if (!body) return undefined;
    const entry: WidgetFile = {
      mtimeMs: stat.mtimeMs, size: stat.size, type: TYPES[name.slice(name.lastIndexOf('.') + 1)]!, body,
      gzip: zlib.gzipSync(body, { level: 9 }), etag: crypto.createHash('sha256').update(body).digest('base64url').slice(0, 27),
    };
    cache.set(name, entry);
    return entry;
  }

  async function serve(ctx: Koa.Context, name: string): Promise<void> {
    const file = await load(name);
    if (!file) return; // 404 in the usual envelope
    ctx.set('Access-Control-Allow-Origin', '*');
    ctx.set('Cross-Origin-Resource-Policy', 'cross-origin');
    ctx.set('Cache-Control', 'public, max-age=300');
    sendStaticAsset(ctx, file);
  }

  const router = new Router();
  router.get('/widget.js', (ctx) => serve(ctx, 'loader.js'));
  router.get('/widget/:file', (ctx) => serve(ctx, ctx.params.file!));
  return router;
}
