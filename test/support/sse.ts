/**
 * A small Server-Sent Events client for tests: reads a `text/event-stream` response with fetch
 * and parses it per the WHATWG rules that matter here (event, id, data, retry, comments).
 */
export interface SseEvent {
  event: string;
  id: string | undefined;
  data: string;
}

export class SseStream {
  readonly status: number;
  readonly headers: Headers;
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  retry: number | undefined;
  /** Resolves when the server ends the stream (or it is closed here). */
  readonly ended: Promise<void>;
  #ended = false;
  readonly #abort: AbortController;
  readonly #waiters = new Set<() => void>();

  private constructor(res: Response, abort: AbortController) {
    this.status = res.status;
    this.headers = res.headers;
    this.#abort = abort;
    this.ended = res.body ? this.#read(res.body) : Promise.resolve().then(() => { this.#ended = true; });
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
    const abort = new AbortController();
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
    return new SseStream(res, abort);
  }

  get isEnded(): boolean {
    return this.#ended;
  }

  /** Waits for the server to end the stream; fails after `timeoutMs` if it does not. */
  async untilEnded(timeoutMs = 20_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the server did not end the stream; got ${JSON.stringify(this.events.map((e) => e.data.slice(0, 80)))}`)), timeoutMs);
    });
    try {
      await Promise.race([this.ended, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.#abort.abort();
  }

  /** The first event (from the start of the stream) matching `pred`; fails if the stream ends first or after `timeoutMs`. */
  async waitFor(what: string, pred: (e: SseEvent) => boolean, timeoutMs = 20_000): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(pred);
      if (found) return found;
      if (this.#ended) throw new Error(`stream ended before ${what}; got ${JSON.stringify(this.events.map((e) => e.data.slice(0, 80)))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.events.map((e) => e.data.slice(0, 80)))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done() { clearTimeout(timer); resolve(); }
        this.#waiters.add(done);
      });
    }
  }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const w of waiters) w();
  }

  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      const reader = body.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          this.#block(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
        }
      }
    } catch {
      // aborted by close(), or the connection dropped
    } finally {
      this.#ended = true;
      this.#wake();
    }
  }

  #block(block: string): void {
    let event = 'message';
    let id: string | undefined;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) { this.comments.push(line.slice(1).trim()); continue; }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'id') id = value;
      else if (field === 'data') data.push(value);
      else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
    }
    if (data.length > 0) {
      this.events.push({ event, id, data: data.join('\n') });
      this.#wake();
    }
  }
}
