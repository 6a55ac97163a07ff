// Baseline for bench/ipn-ingest.ts: the same HTTP stack as Coinbridge (node:http + Koa + raw-body,
// same keep-alive timeout) with no router, no signature check and no database. Started by the
// bench as a child process; listens on 127.0.0.1:$PORT and prints "listening" once it does.
import http from 'node:http';
import Koa from 'koa';
import getRawBody from 'raw-body';

const app = new Koa();
app.use(async (ctx) => {
  if (ctx.method !== 'POST') {
    ctx.status = 404;
    ctx.body = { error: 'POST only' };
    return;
  }
  await getRawBody(ctx.req, { limit: 64 * 1024, length: ctx.get('content-length') || undefined });
  ctx.status = 200;
  ctx.body = { received: true };
});

const server = http.createServer(app.callback());
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => process.stdout.write('listening\n'));

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
