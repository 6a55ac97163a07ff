/**
 * The storefront widget's QR encoder (storefront-widget/src/qr.js): byte mode, level M.
 * Expected matrices come from python-qrcode 7.4.2 (Debian's python3-qrcode) with the same mask
 * forced; the same matrices were also checked against libqrencode 4.1.1 and decoded with zbar.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';

interface Qr { version: number; mask: number; size: number; modules: Uint8Array[] }
interface QrModule {
  qr(text: string, mask?: number): Qr;
  reedSolomon(data: Uint8Array, n: number): Uint8Array;
  formatBits(mask: number): number;
  versionBits(v: number): number;
  alignment(v: number): number[];
  dataCodewords(v: number): number;
  penalty(m: Uint8Array[]): number;
}
const Q = (await import(new URL('../../storefront-widget/src/qr.js', import.meta.url).href)) as QrModule;

const art = (q: Qr): string => q.modules.map((r) => [...r].map((c) => (c ? '#' : '.')).join('')).join('\n');
const hex = (a: Uint8Array): string => Buffer.from(a).toString('hex');

describe('widget QR encoder', () => {
  it('computes Reed–Solomon codewords of the standard examples', () => {
    // "01234567" and "HELLO WORLD" at 1-M (ISO/IEC 18004 Annex I and the usual worked example).
    assert.equal(hex(Q.reedSolomon(Uint8Array.from([0x10, 0x20, 0x0c, 0x56, 0x61, 0x80, 0xec, 0x11, 0xec, 0x11, 0xec, 0x11, 0xec, 0x11, 0xec, 0x11]), 10)), 'a524d4c1ed36c7872c55');
    assert.equal(hex(Q.reedSolomon(Uint8Array.from([0x20, 0x5b, 0x0b, 0x78, 0xd1, 0x72, 0xdc, 0x4d, 0x43, 0x40, 0xec, 0x11, 0xec, 0x11, 0xec, 0x11]), 10)), 'c4232777ebd7e7e25d17');
  });

  it('has the format and version information words of the standard tables', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7].map(Q.formatBits), [0x5412, 0x5125, 0x5e7c, 0x5b4b, 0x45f9, 0x40ce, 0x4f97, 0x4aa0]);
    assert.equal(Q.versionBits(7), 0x07c94);
    assert.equal(Q.versionBits(8), 0x085bc);
    assert.equal(Q.versionBits(10), 0x0a4d3);
    assert.equal(Q.versionBits(40), 0x28c69);
  });

  it('places alignment patterns and sizes data as the standard tables say', () => {
    assert.deepEqual(Q.alignment(1), []);
    assert.deepEqual(Q.alignment(2), [6, 18]);
    assert.deepEqual(Q.alignment(7), [6, 22, 38]);
    assert.deepEqual(Q.alignment(32), [6, 34, 60, 86, 112, 138]);
    assert.deepEqual(Q.alignment(40), [6, 30, 58, 86, 114, 142, 170]);
    assert.deepEqual([1, 2, 5, 10, 27, 40].map(Q.dataCodewords), [16, 28, 86, 216, 1128, 2334]);
  });

  it('matches a reference matrix module for module (https://example.com, 2-M, mask 3)', () => {
    const q = Q.qr('https://example.com', 3);
    assert.equal(q.version, 2);
    assert.equal(q.size, 25);
    assert.equal(art(q), [
      '#######.#..###..#.#######', '#.....#.######..#.#.....#', '#.###.#...#######.#.###.#', '#.###.#.#....###..#.###.#',
      '#.###.#...#######.#.###.#', '#.....#..######.#.#.....#', '#######.#.#.#.#.#.#######', '........##.##..##........',
      '#.##.###.##..#.##.#..#.##', '.#..##..#.##.#...#.#...#.', '.#..###....###..#####....', '.....#.###.##........##..',
      '.###..#....##.##.##.#.###', '.#..##...####.#######...#', '.#.##.#..#.#.#..#...#.##.', '#..#...#...#..#######...#',
      '...#..#...#.#.###########', '........#.#...#.#...#.#.#', '#######.#....##.#.#.#.###', '#.....#.#..#.####...#...#',
      '#.###.#......##.######...', '#.###.#.#......#.##.#####', '#.###.#.#.#...#..##.#.##.', '#.....#..#######.##.#.#..',
      '#######.##.#.....########',
    ].join('\n'));
  });

  it('matches reference matrices across versions 1–40 (SHA-256 of the module art)', () => {
    const cases: [string, number, number, string][] = [
      ['A', 0, 1, 'd555ce17b805c3859edd8373cf0d9ee762292ea1d53f0dad548f19118803477c'],
      ['Hello, world! 123', 5, 2, '1ca1d367d38c0f0f1e247c7c96852e230f1137191a770825619c38410f4ed237'],
      ['é€😀 unicode → QR', 2, 2, '0097f65f24f6345621f204e78e3e79628ed3523c4996e9747ef47cf871ed75cd'],
      ['https://coinbridge.example/pay/Q2x9RkT4mWn8bVc1zYp0aL', 7, 4, '7727923f45683adfb9f9a11442a5869becec772a8317f38572eb86b70cf948a8'],
      [`https://app.paymento.io/gateway?token=${'x'.repeat(100)}`, 1, 8, '51bb41570aeadb5809e239ed69aead22e8f0dd37f6c020014bfe981f5e1e437a'],
      [`https://app.paymento.io/gateway?token=${'ab12'.repeat(43)}`, 6, 10, 'aad9be5b1dd9cb949854b4fe7e3403a23b23a87cec470f601b92670102933ce2'],
      ['z'.repeat(213), 4, 10, '31007c02a3ed382b71b2959d79d36c986f2c9148041caef9650b11182bb37e26'],
      ['y'.repeat(214), 3, 11, 'c92028262eb4d6a441595106014b13134ef427cecf3e257fd7f6372a2057b595'],
      ['0123456789'.repeat(60), 5, 19, '1be7c493c07405279f5e6219ec487a5877dc7b125a77b02028dce20b6c73878b'],
      ['w'.repeat(2331), 0, 40, 'd4ff8d459daac29145b8e04df624e45bf355a25f2ad4cb028a738e3f92bd3cbb'],
    ];
    for (const [text, mask, version, sha] of cases) {
      const q = Q.qr(text, mask);
      assert.equal(q.version, version, `version of a ${text.length}-character text`);
      assert.equal(createHash('sha256').update(art(q)).digest('hex'), sha, `matrix of ${JSON.stringify(text.slice(0, 40))}, mask ${mask}`);
    }
  });

  it('draws finder, timing, format and version patterns, and picks the mask with the lowest penalty', () => {
    for (const text of ['https://example.com/', `https://gw.example/p?t=${'k'.repeat(180)}`]) {
      const q = Q.qr(text);
      const m = q.modules, s = q.size;
      assert.equal(s, q.version * 4 + 17);
      for (const [x0, y0] of [[0, 0], [s - 7, 0], [0, s - 7]] as const) {
        for (let d = 0; d < 7; d++) {
          assert.equal(m[y0]![x0 + d], 1); assert.equal(m[y0 + 6]![x0 + d], 1);
          assert.equal(m[y0 + d]![x0], 1); assert.equal(m[y0 + d]![x0 + 6], 1);
          assert.equal(m[y0 + 1]![x0 + 1 + Math.min(d, 4)], 0, 'light ring');
        }
        assert.equal(m[y0 + 3]![x0 + 3], 1, 'finder centre');
      }
      for (let i = 8; i < s - 8; i++) { assert.equal(m[6]![i], i % 2 === 0 ? 1 : 0); assert.equal(m[i]![6], i % 2 === 0 ? 1 : 0); }
      assert.equal(m[s - 8]![8], 1, 'dark module');
      // Both copies of the format information say level M and the chosen mask.
      let a = 0, b = 0;
      const bitsA = [m[0]![8], m[1]![8], m[2]![8], m[3]![8], m[4]![8], m[5]![8], m[7]![8], m[8]![8], m[8]![7], m[8]![5], m[8]![4], m[8]![3], m[8]![2], m[8]![1], m[8]![0]];
      bitsA.forEach((bit, i) => { a |= bit! << i; });
      for (let i = 0; i < 8; i++) b |= m[8]![s - 1 - i]! << i;
      for (let i = 8; i < 15; i++) b |= m[s - 15 + i]![8]! << i;
      assert.equal(a, Q.formatBits(q.mask));
      assert.equal(b, Q.formatBits(q.mask));
      if (q.version >= 7) {
        let v = 0;
        for (let i = 0; i < 18; i++) v |= m[Math.floor(i / 3)]![s - 11 + (i % 3)]! << i;
        assert.equal(v, Q.versionBits(q.version));
      }
      const penalties = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => Q.penalty(Q.qr(text, k).modules));
      assert.equal(penalties[q.mask], Math.min(...penalties));
    }
  });

  it('chooses the smallest version and refuses text that cannot fit', () => {
    assert.equal(Q.qr('x'.repeat(14)).version, 1);
    assert.equal(Q.qr('x'.repeat(15)).version, 2);
    assert.equal(Q.qr('€'.repeat(5)).version, 2, 'UTF-8 bytes are counted, not characters');
    assert.throws(() => Q.qr('x'.repeat(2332)), RangeError);
  });
});
