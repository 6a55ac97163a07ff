import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from './errors.ts';

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('0.0.0.0'),
  PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgresql:// connection string').optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(2).max(200).default(10),
  DATA_DIR: z.string().min(1).default('./data'),
  ENCRYPTION_KEY: z.string().optional(),
  SHOPIFY_API_KEY: z.string().optional(),
  SHOPIFY_API_SECRET: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SHOPIFY_ADMIN_ORIGIN: z.url().optional(),
  PAYMENTO_API_ORIGIN: z.url().default('https://api.paymento.io'),
  PAYMENTO_GATEWAY_ORIGIN: z.url().default('https://app.paymento.io'),
  CRYPTONOW_API_ORIGIN: z.url().default('https://cryptnow.io'),
  ALLOW_PRIVATE_URLS: bool.default(false),
  COINBRIDGE_ROLE: z.enum(['all', 'web', 'worker']).default('all'),
  SEED_DEMO: bool.optional(),
  GATEWAY_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  JOB_POLL_MS: z.coerce.number().int().min(50).max(60_000).default(1000),
  JOB_LOCK_LIFETIME_MS: z.coerce.number().int().min(1000).max(3_600_000).default(60_000),
  RECONCILE_EVERY: z.string().default('1 minute'),
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(600),
  ADMIN_SETUP_TOKEN: z.string().trim().min(24, 'must be at least 24 characters (e.g. `openssl rand -base64 24`)').optional(),
});

export type Env = z.infer<typeof EnvSchema>;

export interface Config {
  env: Env['NODE_ENV'];
  port: number;
  host: string;
  /** Where shoppers, gateways and stores reach this deployment (no trailing slash). */
  publicUrl: string;
  databaseUrl: string | undefined;
  databasePoolSize: number;
  dataDir: string;
  encryptionKey: string | undefined;
  shopify: { apiKey: string | undefined; apiSecret: string | undefined; adminOrigin: string | undefined };
  paymento: { apiOrigin: string; gatewayOrigin: string };
  /** CryptoNow's API (Crypto Checkout has none of its own: each merchant runs an instance). */
  cryptonow: { apiOrigin: string };
  /** Deadline for one call to a gateway's API. */
  gatewayTimeoutMs: number;
  allowPrivateUrls: boolean;
  logLevel: Env['LOG_LEVEL'];
  /** `web` serves HTTP only, `worker` runs jobs only, `all` does both. */
  role: Env['COINBRIDGE_ROLE'];
  seedDemo: boolean;
  jobPollMs: number;
  /** How long a worker may hold a job before another worker may take it over. */
  jobLockLifetimeMs: number;
  reconcileEvery: string;
  /** Requests per minute one client IP may make to each group of public endpoints (pay page, checkout, widget, connect). */
  rateLimitPerMinute: number;
  /** Creates the first operator account of the support console; unset, a one-time token is printed at start-up. */
  adminSetupToken: string | undefined;
}

// CRYPTONOW_API_ORIGIN is not a seam: CryptoNow's API host is not in the public guide, so an
// operator must be able to correct it in production.
const TEST_SEAMS = ['SHOPIFY_ADMIN_ORIGIN', 'PAYMENTO_API_ORIGIN', 'PAYMENTO_GATEWAY_ORIGIN', 'ALLOW_PRIVATE_URLS'] as const;

/** Validates the whole environment at once, so an operator sees every problem in one go. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  const raw = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(raw);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.')}: ${issue.message}`);
  }
  const env = parsed.success ? parsed.data : undefined;
  const nodeEnv = (raw.NODE_ENV as string | undefined) ?? 'development';
  if (nodeEnv === 'production') {
    if (!raw.ENCRYPTION_KEY) problems.push('ENCRYPTION_KEY: required when NODE_ENV=production (32 random bytes, base64)');
    if (!raw.PUBLIC_URL) problems.push('PUBLIC_URL: required when NODE_ENV=production (the https address gateways and stores call)');
    for (const seam of TEST_SEAMS) {
      if (raw[seam] !== undefined) problems.push(`${seam}: a test seam, refused when NODE_ENV=production; unset it`);
    }
  }
  if ((raw.SHOPIFY_API_KEY === undefined) !== (raw.SHOPIFY_API_SECRET === undefined)) {
    problems.push('SHOPIFY_API_KEY and SHOPIFY_API_SECRET: set both or neither');
  }
  if (problems.length > 0 || !env) throw new ConfigError(problems);

  const port = env.PORT;
  return {
    env: env.NODE_ENV,
    port,
    host: env.HOST,
    publicUrl: (env.PUBLIC_URL ?? `http://localhost:${port}`).replace(/\/+$/, ''),
    databaseUrl: env.DATABASE_URL,
    databasePoolSize: env.DATABASE_POOL_SIZE,
    dataDir: path.resolve(env.DATA_DIR),
    encryptionKey: env.ENCRYPTION_KEY,
    shopify: { apiKey: env.SHOPIFY_API_KEY, apiSecret: env.SHOPIFY_API_SECRET, adminOrigin: env.SHOPIFY_ADMIN_ORIGIN },
    paymento: { apiOrigin: env.PAYMENTO_API_ORIGIN.replace(/\/+$/, ''), gatewayOrigin: env.PAYMENTO_GATEWAY_ORIGIN.replace(/\/+$/, '') },
    cryptonow: { apiOrigin: env.CRYPTONOW_API_ORIGIN.replace(/\/+$/, '') },
    gatewayTimeoutMs: env.GATEWAY_TIMEOUT_MS,
    allowPrivateUrls: env.ALLOW_PRIVATE_URLS,
    logLevel: env.LOG_LEVEL,
    role: env.COINBRIDGE_ROLE,
    seedDemo: env.SEED_DEMO ?? env.NODE_ENV !== 'production',
    jobPollMs: env.JOB_POLL_MS,
    jobLockLifetimeMs: env.JOB_LOCK_LIFETIME_MS,
    reconcileEvery: env.RECONCILE_EVERY,
    rateLimitPerMinute: env.RATE_LIMIT_PER_MINUTE,
    adminSetupToken: env.ADMIN_SETUP_TOKEN,
  };
}
