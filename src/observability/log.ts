import pino from 'pino';

export type Logger = pino.Logger;

/**
 * Structured JSON logs. Secrets never reach a log line: known secret-bearing keys are censored
 * wherever they appear, and callers log ids, not credentials.
 */
export const REDACT_PATHS = [
  'apiKey', 'api_key', 'secret', 'ipnSecret', 'password', 'token', 'accessToken', 'authorization',
  'headers.authorization', 'headers["api-key"]', 'headers["x-hmac-sha256-signature"]',
  '*.apiKey', '*.secret', '*.ipnSecret', '*.password', '*.accessToken', '*.authorization',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'coinbridge' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
