/**
 * One error root for everything Coinbridge throws on purpose. `code` is machine-readable and
 * stable (clients switch on it); `message` tells a human what went wrong and what to do.
 */
export class CoinbridgeError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: unknown;
  /** Worth trying again later (network trouble, 5xx, throttling); jobs back off and retry. */
  readonly retryable: boolean;

  constructor(code: string, message: string, opts: { status?: number; details?: unknown; retryable?: boolean; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = opts.status ?? 500;
    this.details = opts.details;
    this.retryable = opts.retryable ?? false;
  }
}

/** Bad input from a caller: 4xx, nothing stored. */
export class InputError extends CoinbridgeError {
  constructor(code: string, message: string, status = 400, details?: unknown) {
    super(code, message, { status, details });
  }
}

/** A third party (gateway, store) failed in a way that may pass: retry with backoff. */
export class UpstreamError extends CoinbridgeError {
  /** Milliseconds the upstream asked us to wait (Retry-After), when it said. */
  readonly retryAfterMs: number | undefined;
  constructor(code: string, message: string, opts: { retryAfterMs?: number; cause?: unknown; details?: unknown } = {}) {
    super(code, message, { status: 502, retryable: true, cause: opts.cause, details: opts.details });
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** A third party answered, and the answer is final (bad credentials, refused request). */
export class UpstreamRefusal extends CoinbridgeError {
  constructor(code: string, message: string, details?: unknown) {
    super(code, message, { status: 502, retryable: false, details });
  }
}

export class ConfigError extends CoinbridgeError {
  readonly problems: string[];
  constructor(problems: string[]) {
    super('invalid_config', `Coinbridge cannot start; fix these settings:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

export function assertUnreachable(value: never, what = 'value'): never {
  throw new Error(`Unhandled ${what}: ${JSON.stringify(value)}`);
}
