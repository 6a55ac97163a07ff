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
