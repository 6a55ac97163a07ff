// Compact QR Code encoder (ISO/IEC 18004): byte mode, error correction level M, versions 1–40.
// No DOM: returns the module matrix; checkout.js draws it as SVG. Loaded lazily after first render.

// Level M, indexed by version: EC codewords per block, and number of blocks.
const ECC = [0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28];
const BLOCKS = [0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49];

/** Codewords (data + EC) that fit in a symbol of version v. */
const rawCodewords = (v) => {
  let n = (16 * v + 128) * v + 64;
  if (v >= 2) { const a = (v / 7 | 0) + 2; n -= (25 * a - 10) * a - 55; if (v >= 7) n -= 36; }
  return n >> 3;
};
/** Data codewords of version v at level M. */
export const dataCodewords = (v) => rawCodewords(v) - ECC[v] * BLOCKS[v];

/** Centre coordinates of alignment patterns for version v. */
export const alignment = (v) => {
  if (v === 1) return [];
  const n = (v / 7 | 0) + 2, last = v * 4 + 10;
  const step = ((v * 8 + n * 3 + 5) / (n * 4 - 4) | 0) * 2;
  const r = [6];
  for (let p = last; r.length < n; p -= step) r.splice(1, 0, p);
  return r;
};

// GF(256) with polynomial 0x11d.
const mul = (x, y) => {
  let z = 0;
  for (let i = 7; i >= 0; i--) { z = (z << 1) ^ ((z >>> 7) * 0x11d); z ^= ((y >>> i) & 1) * x; }
  return z;
};
/** Reed–Solomon EC codewords of `data` (degree-`n` generator). */
export const reedSolomon = (data, n) => {
  const g = new Uint8Array(n); g[n - 1] = 1;
  for (let i = 0, root = 1; i < n; i++, root = mul(root, 2)) {
    for (let j = 0; j < n; j++) g[j] = mul(g[j], root) ^ (j + 1 < n ? g[j + 1] : 0);
  }
  const r = new Uint8Array(n);
  for (const b of data) {
    const f = b ^ r[0];
    r.copyWithin(0, 1); r[n - 1] = 0;
    for (let j = 0; j < n; j++) r[j] ^= mul(g[j], f);
  }
  return r;
};

/** BCH-coded format bits (15) for level M and `mask`. */
export const formatBits = (mask) => {
  const d = mask; // level M = 0b00
  let r = d;
  for (let i = 0; i < 10; i++) r = (r << 1) ^ ((r >>> 9) * 0x537);
  return ((d << 10) | r) ^ 0x5412;
};
/** BCH-coded version bits (18), versions ≥ 7. */
export const versionBits = (v) => {
  let r = v;
  for (let i = 0; i < 12; i++) r = (r << 1) ^ ((r >>> 11) * 0x1f25);
  return (v << 12) | r;
};

const MASKS = [
  (x, y) => (x + y) % 2 === 0, (x, y) => y % 2 === 0, (x) => x % 3 === 0, (x, y) => (x + y) % 3 === 0,
  (x, y) => ((x / 3 | 0) + (y >> 1)) % 2 === 0, (x, y) => (x * y) % 2 + (x * y) % 3 === 0,
  (x, y) => ((x * y) % 2 + (x * y) % 3) % 2 === 0, (x, y) => ((x + y) % 2 + (x * y) % 3) % 2 === 0,
];

/** Penalty score (ISO 18004 §7.8.3, rules N1–N4) of a finished matrix. */
export const penalty = (m) => {
  const s = m.length; let p = 0, dark = 0;
  const line = (get) => {
    let run = 1, bits = 0;
    for (let i = 0; i < s; i++) {
      const c = get(i);
      if (i) { if (c === get(i - 1)) { if (++run === 5) p += 3; else if (run > 5) p++; } else run = 1; }
      bits = ((bits << 1) | c) & 0x7ff; // last 11 modules: 1011101 + 0000 on either side
      if (i >= 10 && (bits === 0x5d0 || bits === 0x05d)) p += 40;
    }
  };
  for (let y = 0; y < s; y++) {
    line((x) => m[y][x]); line((x) => m[x][y]);
    for (let x = 0; x < s; x++) {
      dark += m[y][x];
      if (x && y && m[y][x] === m[y - 1][x] && m[y][x] === m[y][x - 1] && m[y][x] === m[y - 1][x - 1]) p += 3;
    }
  }
  return p + 10 * (Math.abs(dark * 100 / (s * s) - 50) / 5 | 0);
};

/**
 * Encodes `text` (UTF-8, byte mode, level M) in the smallest version that holds it.
 * @param {string} text
 * @param {number} [forceMask] 0–7, or chosen by lowest penalty when omitted
 * @returns {{ version: number, mask: number, size: number, modules: Uint8Array[] }} modules[y][x], 1 = dark
 */
export function qr(text, forceMask = -1) {
  const bytes = new TextEncoder().encode(text);
  let v = 1;
  while (4 + (v < 10 ? 8 : 16) + bytes.length * 8 > dataCodewords(v) * 8) if (++v > 40) throw new RangeError('QR: text too long');
  const cap = dataCodewords(v), bits = [];
  const put = (val, n) => { for (let i = n - 1; i >= 0; i--) bits.push((val >>> i) & 1); };
  put(4, 4); put(bytes.length, v < 10 ? 8 : 16);
  for (const b of bytes) put(b, 8);
  put(0, Math.min(4, cap * 8 - bits.length));
  put(0, (8 - bits.length % 8) % 8);
  const data = new Uint8Array(cap);
  for (let i = 0; i < bits.length; i++) data[i >> 3] |= bits[i] << (7 - (i & 7));
  for (let i = bits.length >> 3, pad = 0xec; i < cap; i++, pad ^= 0xfd) data[i] = pad; // 0xEC, 0x11, …

  // Split into blocks, add EC, interleave.
  const nb = BLOCKS[v], ec = ECC[v], raw = rawCodewords(v), short = raw / nb | 0, nShort = nb - raw % nb;
  const blocks = [];
  for (let i = 0, k = 0; i < nb; i++) {
    const len = short - ec + (i < nShort ? 0 : 1), d = data.subarray(k, k + len);
    k += len;
    blocks.push([...d, ...(i < nShort ? [-1] : []), ...reedSolomon(d, ec)]); // -1: padding slot, skipped
  }
  const words = [];
  for (let i = 0; i <= short; i++) for (const b of blocks) if (b[i] >= 0) words.push(b[i]);

  // Function patterns.
  const size = v * 4 + 17;
  const m = Array.from({ length: size }, () => new Uint8Array(size));
  const fn = Array.from({ length: size }, () => new Uint8Array(size));
  const set = (x, y, d) => { m[y][x] = d ? 1 : 0; fn[y][x] = 1; };
  for (let i = 0; i < size; i++) { set(6, i, i % 2 === 0); set(i, 6, i % 2 === 0); }
  for (const [cx, cy] of [[3, 3], [size - 4, 3], [3, size - 4]]) {
    for (let dy = -4; dy <= 4; dy++) for (let dx = -4; dx <= 4; dx++) {
      const x = cx + dx, y = cy + dy, d = Math.max(Math.abs(dx), Math.abs(dy));
      if (x >= 0 && x < size && y >= 0 && y < size) set(x, y, d !== 2 && d !== 4);
    }
  }
  const al = alignment(v), last = al.length - 1;
  for (let i = 0; i <= last; i++) for (let j = 0; j <= last; j++) {
    if ((i === 0 && j === 0) || (i === 0 && j === last) || (i === last && j === 0)) continue;
    for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) set(al[i] + dx, al[j] + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1);
  }
  const drawFormat = (mask) => {
    const f = formatBits(mask), b = (i) => (f >>> i) & 1;
    for (let i = 0; i < 6; i++) set(8, i, b(i));
    set(8, 7, b(6)); set(8, 8, b(7)); set(7, 8, b(8));
    for (let i = 9; i < 15; i++) set(14 - i, 8, b(i));
    for (let i = 0; i < 8; i++) set(size - 1 - i, 8, b(i));
    for (let i = 8; i < 15; i++) set(8, size - 15 + i, b(i));
    set(8, size - 8, 1); // dark module
  };
  drawFormat(0); // reserve
  if (v >= 7) {
    const vb = versionBits(v);
    for (let i = 0; i < 18; i++) { const a = size - 11 + i % 3, b = i / 3 | 0, d = (vb >>> i) & 1; set(a, b, d); set(b, a, d); }
  }

  // Data in the zigzag order, two columns at a time, right to left, skipping the vertical timing column.
  let i = 0;
  for (let right = size - 1; right >= 1; right -= 2) {
    if (right === 6) right = 5;
    for (let vert = 0; vert < size; vert++) for (let j = 0; j < 2; j++) {
      const x = right - j, y = ((right + 1) & 2) === 0 ? size - 1 - vert : vert;
      if (!fn[y][x] && i < words.length * 8) { m[y][x] = (words[i >> 3] >>> (7 - (i & 7))) & 1; i++; }
    }
  }

  const apply = (mask) => {
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) if (!fn[y][x] && MASKS[mask](x, y)) m[y][x] ^= 1;
  };
  let mask = forceMask;
  if (mask < 0) {
    let best = Infinity;
    for (let k = 0; k < 8; k++) {
      apply(k); drawFormat(k);
      const p = penalty(m);
      if (p < best) { best = p; mask = k; }
      apply(k);
    }
  }
  apply(mask); drawFormat(mask);
  return { version: v, mask, size, modules: m };
}
