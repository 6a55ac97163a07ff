import type http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * Listens on a free loopback port and keeps track of open sockets, so an emulator can close at
 * once even while a client holds a connection open or a request hangs on purpose.
 */
export async function listenOnLoopback(server: http.Server): Promise<{ origin: string; destroySockets(): void }> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    destroySockets() {
      for (const socket of sockets) socket.destroy();
    },
  };
}

/** One request an emulator received, as tests inspect it. */
export interface LoggedRequest {
  method: string;
  /** Path and query exactly as received. */
  path: string;
  headers: http.IncomingHttpHeaders;
  /** Parsed JSON when the body was JSON, the raw text otherwise, undefined when empty. */
  body: unknown;
  rawBody: string;
}

/** Reads a request body as UTF-8 text, refusing more than `maxBytes`. */
export async function readBody(req: http.IncomingMessage, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
