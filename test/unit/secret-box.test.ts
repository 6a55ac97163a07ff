import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { loadSecretBox, SecretBox } from '../../src/crypto/secret-box.ts';
import { ConfigError } from '../../src/errors.ts';
import { createLogger, type Logger } from '../../src/observability/log.ts';

const keyA = crypto.randomBytes(32);
const keyB = crypto.randomBytes(32);
const idOf = (key: Buffer) => crypto.createHash('sha256').update(key).digest('hex').slice(0, 8);

/** A real (pino) logger whose JSON lines land in `lines`. */
function capturingLogger(): { log: Logger; lines: () => any[] } {
  const raw: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { raw.push(chunk.toString()); cb(); } });
  const log = createLogger('debug', sink);
  return { log, lines: () => raw.flatMap((chunk) => chunk.split('\n').filter(Boolean)).map((l) => JSON.parse(l)) };
}

/** Replaces one dot-separated part of an envelope by re-encoding its bytes with one bit flipped. */
function flipPart(envelope: string, index: number): string {
  const parts = envelope.split('.');
  const bytes = Buffer.from(parts[index]!, 'base64url');
  bytes[0] = bytes[0]! ^ 0x01;
  parts[index] = bytes.toString('base64url');
  return parts.join('.');
}

const tmpDirs: string[] = [];
function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cb-box-'));
  tmpDirs.push(dir);
  return dir;
}
after(() => { for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true }); });

describe('SecretBox', () => {
  it('round-trips text and JSON, including empty and non-ASCII text', () => {
    const box = new SecretBox([keyA]);
    for (const plaintext of ['ipn-secret-123', '', 'ünïcødé ✓ 🔐', 'x'.repeat(10_000)]) {
      assert.equal(box.open(box.seal(plaintext)), plaintext);
    }
    const creds = { apiKey: 'sbx_abc', ipnSecret: 'f'.repeat(64) };
    assert.deepEqual(box.openJson(box.sealJson(creds)), creds);
  });

  it('names the sealing key in a v1 envelope', () => {
    const box = new SecretBox([keyA]);
    assert.equal(box.keyId, idOf(keyA));
    const parts = box.seal('hello').split('.');
    assert.equal(parts.length, 5);
    assert.deepEqual(parts.slice(0, 2), ['v1', idOf(keyA)]);
    assert.equal(Buffer.from(parts[2]!, 'base64url').length, 12, '96-bit IV');
    assert.equal(Buffer.from(parts[3]!, 'base64url').length, 16, '128-bit GCM tag');
  });

  it('gives a different ciphertext every time (random IV) and never contains the plaintext', () => {
    const box = new SecretBox([keyA]);
    const secret = 'the-ipn-secret-0123456789abcdef';
    const envelopes = Array.from({ length: 50 }, () => box.seal(secret));
    assert.equal(new Set(envelopes).size, 50, 'no two envelopes alike');
    assert.equal(new Set(envelopes.map((e) => e.split('.')[2])).size, 50, 'no IV reused');
    for (const env of envelopes) {
      assert.ok(!env.includes(secret));
      for (const encoding of ['base64', 'base64url', 'hex'] as const) {
        assert.ok(!env.includes(Buffer.from(secret).toString(encoding).slice(0, 16)), `no ${encoding} of the plaintext`);
      }
      assert.ok(!Buffer.from(env.split('.')[4]!, 'base64url').toString('latin1').includes(secret), 'ciphertext bytes are not the plaintext');
    }
  });

  it('refuses to open anything tampered with: iv, tag, ciphertext, key id, version, truncation', () => {
    const box = new SecretBox([keyA, keyB]);
    const env = box.seal('do not touch');
    const parts = env.split('.');
    const tampered: [string, string][] = [
      ['iv', flipPart(env, 2)],
      ['tag', flipPart(env, 3)],
      ['ciphertext', flipPart(env, 4)],
      ['ciphertext truncated', [...parts.slice(0, 4), Buffer.from(parts[4]!, 'base64url').subarray(1).toString('base64url')].join('.')],
      ['ciphertext extended', [...parts.slice(0, 4), Buffer.concat([Buffer.from(parts[4]!, 'base64url'), Buffer.from([0])]).toString('base64url')].join('.')],
      ['tag empty', [...parts.slice(0, 3), '', parts[4]!].join('.')],
      // The other key is known to the box, so only the AAD + key mismatch can catch this.
      ['key id swapped to the other known key', ['v1', idOf(keyB), ...parts.slice(2)].join('.')],
      ['key id unknown', ['v1', '00000000', ...parts.slice(2)].join('.')],
      ['version', ['v2', ...parts.slice(1)].join('.')],
      ['missing parts', parts.slice(0, 4).join('.')],
      ['not an envelope', 'hello'],
      ['empty', ''],
    ];
    for (const [label, bad] of tampered) {
      assert.notEqual(bad, env, label);
      assert.throws(() => box.open(bad), Error, label);
    }
    assert.equal(box.open(env), 'do not touch', 'the untampered envelope still opens');
  });

  // Regression: GCM accepts truncated tags unless the length is pinned; a 4-byte tag leaves 2^32 forgery work.
  it('refuses an envelope whose authentication tag was truncated', () => {
    const box = new SecretBox([keyA]);
    const parts = box.seal('do not touch').split('.');
    for (const length of [15, 12, 8, 4]) {
      const shortTag = Buffer.from(parts[3]!, 'base64url').subarray(0, length).toString('base64url');
      assert.throws(() => box.open([...parts.slice(0, 3), shortTag, parts[4]!].join('.')), Error, `a ${length}-byte tag`);
    }
  });

  it('rotation: a box with [new, old] opens what old sealed and seals with new', () => {
    const oldBox = new SecretBox([keyA]);
    const rotated = new SecretBox([keyB, keyA]);
    const sealedByOld = oldBox.seal('old secret');
    assert.equal(rotated.open(sealedByOld), 'old secret');
    assert.equal(rotated.keyId, idOf(keyB));
    const sealedByNew = rotated.seal('new secret');
    assert.equal(sealedByNew.split('.')[1], idOf(keyB));
    assert.equal(rotated.open(sealedByNew), 'new secret');
    assert.equal(new SecretBox([keyB]).open(sealedByNew), 'new secret', 'the old key is not needed for new envelopes');
  });

  it('a box without the sealing key says which key id is missing', () => {
    const sealed = new SecretBox([keyB]).seal('x');
    assert.throws(() => new SecretBox([keyA]).open(sealed), (err: Error) => {
      assert.ok(err.message.includes(idOf(keyB)), err.message);
      assert.match(err.message, /ENCRYPTION_KEY/);
      return true;
    });
  });

  it('needs at least one key', () => {
    assert.throws(() => new SecretBox([]), /at least one key/);
  });
});

describe('loadSecretBox', () => {
  it('uses ENCRYPTION_KEY in base64 or hex, and a comma-separated list newest first', () => {
    const { log, lines } = capturingLogger();
    const b64 = loadSecretBox({ encryptionKey: keyA.toString('base64'), dataDir: tmpDir(), production: true, log });
    assert.equal(b64.keyId, idOf(keyA));
    const hex = loadSecretBox({ encryptionKey: keyA.toString('hex'), dataDir: tmpDir(), production: true, log });
    assert.equal(hex.keyId, idOf(keyA));
    const list = loadSecretBox({ encryptionKey: ` ${keyB.toString('base64')} , ${keyA.toString('hex')} `, dataDir: tmpDir(), production: true, log });
    assert.equal(list.keyId, idOf(keyB));
    assert.equal(list.open(b64.seal('rotated')), 'rotated');
    assert.deepEqual(lines(), [], 'nothing to warn about');
  });

  it('refuses production without a key, with a ConfigError naming ENCRYPTION_KEY, and writes no key file', () => {
    const dir = path.join(tmpDir(), 'data');
    const { log } = capturingLogger();
    assert.throws(() => loadSecretBox({ encryptionKey: undefined, dataDir: dir, production: true, log }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.problems.join('\n'), /^ENCRYPTION_KEY: required/);
      return true;
    });
    assert.throws(() => loadSecretBox({ encryptionKey: '', dataDir: dir, production: true, log }), ConfigError);
    assert.equal(fs.existsSync(path.join(dir, 'encryption.key')), false);
  });

  it('in development generates a key file under DATA_DIR once (mode 0600), reuses it, and warns', () => {
    const dir = path.join(tmpDir(), 'nested', 'data');
    const { log, lines } = capturingLogger();
    const first = loadSecretBox({ encryptionKey: undefined, dataDir: dir, production: false, log });
    const file = path.join(dir, 'encryption.key');
    assert.ok(fs.existsSync(file), 'key file written (DATA_DIR created as needed)');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600, 'readable by the owner only');
    const content = fs.readFileSync(file, 'utf8');
    assert.equal(Buffer.from(content, 'base64').length, 32);

    const second = loadSecretBox({ encryptionKey: undefined, dataDir: dir, production: false, log });
    assert.equal(second.keyId, first.keyId, 'the same key on the second call');
    assert.equal(fs.readFileSync(file, 'utf8'), content, 'the file is not rewritten');
    assert.equal(second.open(first.seal('persisted')), 'persisted');

    const warnings = lines().filter((l) => l.level === 'warn');
    assert.ok(warnings.length >= 1);
    assert.match(warnings[0].msg, /ENCRYPTION_KEY not set/);
    assert.equal(warnings[0].file, file, 'the warning says where the key is');
    assert.ok(!JSON.stringify(lines()).includes(content), 'the key itself is never logged');
  });

  it('refuses keys of the wrong length with a clear message naming the key', () => {
    const { log } = capturingLogger();
    const cases: [string, RegExp][] = [
      [crypto.randomBytes(16).toString('base64'), /key #1 must be 32 bytes/],
      [crypto.randomBytes(31).toString('base64'), /key #1 must be 32 bytes/],
      [crypto.randomBytes(33).toString('base64'), /key #1 must be 32 bytes/],
      [crypto.randomBytes(16).toString('hex'), /key #1 must be 32 bytes/],
      ['not a key at all', /key #1 must be 32 bytes/],
      [`${keyA.toString('base64')},${crypto.randomBytes(24).toString('base64')}`, /key #2 must be 32 bytes/],
    ];
    for (const [encryptionKey, expected] of cases) {
      assert.throws(() => loadSecretBox({ encryptionKey, dataDir: tmpDir(), production: false, log }), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, expected);
        assert.match(err.message, /ENCRYPTION_KEY/);
        assert.match(err.message, /base64 or hex/);
        assert.ok(!err.message.includes(encryptionKey.split(',').at(-1)!), 'the rejected key is not echoed back');
        return true;
      }, encryptionKey);
    }
  });

  // Regression: a corrupt key file was once reported as a bad ENCRYPTION_KEY without naming the file.
  it('a corrupt development key file is refused with a message naming the file', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'encryption.key');
    fs.writeFileSync(file, 'too short', { mode: 0o600 });
    const { log } = capturingLogger();
    assert.throws(() => loadSecretBox({ encryptionKey: undefined, dataDir: dir, production: false, log }), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.match(err.message, /32 bytes/);
      assert.ok(err.message.includes(file), `the message names ${file}: ${err.message}`);
      return true;
    });
  });
});
