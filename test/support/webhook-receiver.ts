import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedCallback {
  method: string;
  headers: http.IncomingHttpHeaders;
  raw: Buffer;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedCallback[];
  /** Statuses to answer the next deliveries with, in order (then 200); 0 = never answer (the sender's timeout must fire). */
  answers: number[];
  close(): Promise<void>;
}

/** A merchant's callback endpoint for emulator tests: records what arrives, byte for byte. */
export async function startWebhookReceiver(pathname: string): Promise<WebhookReceiver> {
  const received: ReceivedCallback[] = [];
  const answers: number[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method ?? '', headers: req.headers, raw: Buffer.concat(chunks) });
      const answer = answers.shift() ?? 200;
      if (answer === 0) return;
      res.writeHead(answer, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${pathname}`,
    received,
    answers,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
