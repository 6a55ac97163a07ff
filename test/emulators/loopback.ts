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

/** A request as tests inspect it: the raw body, and the parsed JSON when the body is JSON. */
export function logged(req: http.IncomingMessage, url: URL, rawBody: string): LoggedRequest {
  const entry: LoggedRequest = { method: req.method ?? 'GET', path: url.pathname + url.search, headers: req.headers, body: undefined, rawBody };
  try { entry.body = rawBody ? JSON.parse(rawBody) : undefined; } catch { entry.body = rawBody; }
  return entry;
}

/**
 * Requests an emulator never answers on purpose, so the client's own deadline has to fire. Like a
 * dead upstream, the socket is dropped after `ms`; close() ends every hold at once.
 */
export class HangingRequests {
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #ms: number;

  constructor(ms: number) {
    this.#ms = ms;
  }

  hold(req: http.IncomingMessage): void {
    const timer = setTimeout(() => { this.#timers.delete(timer); req.socket.destroy(); }, this.#ms);
    this.#timers.add(timer);
    req.socket.once('close', () => { clearTimeout(timer); this.#timers.delete(timer); });
  }

  close(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }
}

/** An emulator's own waits (delays, retry schedules), all cut short at once when it closes. */
export class Sleepers {
  readonly #entries = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = { timer: setTimeout(() => { this.#entries.delete(entry); resolve(); }, ms), resolve };
      this.#entries.add(entry);
    });
  }

  wakeAll(): void {
    for (const s of this.#entries) { clearTimeout(s.timer); s.resolve(); }
    this.#entries.clear();
  }
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
