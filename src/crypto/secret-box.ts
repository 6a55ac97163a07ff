import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.ts';
import type { Logger } from '../observability/log.ts';

const TAG_BYTES = 16;

interface Key {
  id: string;
  /** A KeyObject made once: given raw bytes, every cipher would make one of its own. */
  key: crypto.KeyObject;
}

/**
 * Encrypts secrets at rest with AES-256-GCM. Every envelope names the key that sealed it
 * (`v1.<keyId>.<iv>.<tag>.<ciphertext>`), so keys can rotate: the first key seals, any listed
 * key opens.
 */
export class SecretBox {
  readonly #keys: Key[];

  constructor(keys: Buffer[]) {
    if (keys.length === 0) throw new Error('SecretBox needs at least one key');
    this.#keys = keys.map((bytes) => ({ id: crypto.createHash('sha256').update(bytes).digest('hex').slice(0, 8), key: crypto.createSecretKey(bytes) }));
  }

  get keyId(): string {
    return this.#keys[0]!.id;
  }

  seal(plaintext: string): string {
    const key = this.#keys[0]!;
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', key.key, iv);
    cipher.setAAD(Buffer.from(key.id));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', key.id, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
  }

  open(envelope: string): string {
    const [version, keyId, iv, tag, ct] = envelope.split('.');
    if (version !== 'v1' || !keyId || !iv || !tag || ct === undefined) throw new Error('not a Coinbridge secret envelope');
    const key = this.#keys.find((k) => k.id === keyId);
    if (!key) throw new Error(`secret sealed with key ${keyId}, which is not in ENCRYPTION_KEY; add that key back to open it`);
    const authTag = Buffer.from(tag, 'base64url');
    // A shorter tag would still "verify" (GCM allows truncation), making forgery far cheaper.
    if (authTag.length !== TAG_BYTES) throw new Error('secret envelope has a truncated authentication tag');
    const decipher = crypto.createDecipheriv('aes-256-gcm', key.key, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(key.id));
    decipher.setAuthTag(authTag);
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  }

  sealJson(value: unknown): string {
    return this.seal(JSON.stringify(value));
  }

  openJson<T>(envelope: string): T {
    return JSON.parse(this.open(envelope)) as T;
  }
}

/** `source` names where the key came from, so the operator knows what to fix. */
function parseKey(text: string, source: string): Buffer {
  const trimmed = text.trim();
  const bytes = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  if (bytes.length !== 32) {
    throw new ConfigError([`${source} must be 32 bytes, base64 or hex (e.g. \`openssl rand -base64 32\`)`]);
  }
  return bytes;
}

/**
 * `ENCRYPTION_KEY` is one key or a comma-separated list, newest first. Without it (development
 * only; production refuses to start) a key is generated once and kept under DATA_DIR.
 */
export function loadSecretBox(opts: { encryptionKey: string | undefined; dataDir: string; production: boolean; log: Logger }): SecretBox {
  if (opts.encryptionKey) return new SecretBox(opts.encryptionKey.split(',').map((k, i) => parseKey(k, `ENCRYPTION_KEY: key #${i + 1}`)));
  if (opts.production) throw new ConfigError(['ENCRYPTION_KEY: required when NODE_ENV=production']);
  const file = path.join(opts.dataDir, 'encryption.key');
  fs.mkdirSync(opts.dataDir, { recursive: true });
  if (!fs.existsSync(file)) {
    fs.writeFileSync(file, crypto.randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
  }
  opts.log.warn({ file }, 'ENCRYPTION_KEY not set: using a development key kept under DATA_DIR; set ENCRYPTION_KEY in production');
  return new SecretBox([parseKey(fs.readFileSync(file, 'utf8'), `the development key file ${file} (delete it to make a new one, which makes secrets sealed with it unreadable)`)]);
}
