import dns from 'node:dns';
import net from 'node:net';

/**
 * SSRF guard for URLs a merchant gives us (their store's address): https only, no credentials,
 * and every address the host resolves to must be public — checked after DNS resolution, and
 * again at connect time (`guardedLookup`), so a DNS answer that changes later (rebinding) cannot
 * point Coinbridge at its own network. `ALLOW_PRIVATE_URLS=true` (development, tests) lifts the
 * address and https rules.
 */

const BLOCKED = new net.BlockList();
for (const [prefix, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) BLOCKED.addSubnet(prefix, bits, 'ipv4');
for (const [prefix, bits] of [
  // ::/96 holds the deprecated IPv4-compatible forms (::7f00:1 is 127.0.0.1) and ::ffff:0:0:0/96
  // the IPv4-translated ones: no public host is reached through either.
  ['::', 96], ['::ffff:0:0:0', 96], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8], ['64:ff9b::', 96], ['64:ff9b:1::', 48],
  ['2001:db8::', 32], ['2002::', 16], ['100::', 64],
] as const) BLOCKED.addSubnet(prefix, bits, 'ipv6');

export function isPublicAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 4) return !BLOCKED.check(address, 'ipv4');
  if (family !== 6) return false;
  const lower = address.toLowerCase();
  // IPv4-mapped (::ffff:a.b.c.d or ::ffff:xxxx:xxxx) and IPv4-compatible forms are judged as IPv4.
  const mapped = /^(?:0*:)*:?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower)?.[1] ?? fromHexMapped(lower);
  if (mapped) return isPublicAddress(mapped);
  return !BLOCKED.check(address, 'ipv6');
}

function fromHexMapped(v6: string): string | undefined {
  const m = /^(?:0*:)*:?ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(v6);
  if (!m) return undefined;
  const hi = parseInt(m[1]!, 16);
  const lo = parseInt(m[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

export async function checkMerchantUrl(raw: string, opts: { allowPrivate: boolean }): Promise<UrlCheck> {
  let url: URL;
  try {
    // The WHATWG parser turns decimal, octal and hex IPv4 forms (2130706433, 0177.0.0.1, 0x7f.1)
    // into dotted quads, so they are judged like any other address below.
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'it is not an absolute URL' };
  }
  if (url.protocol !== 'https:' && !(opts.allowPrivate && url.protocol === 'http:')) return { ok: false, reason: 'it must use https' };
  if (url.username || url.password) return { ok: false, reason: 'it must not contain a user name or password' };
  if (url.search || url.hash) return { ok: false, reason: 'it must not contain a query or fragment' };
  if (opts.allowPrivate) return { ok: true, url };
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (net.isIP(host)) return isPublicAddress(host) ? { ok: true, url } : { ok: false, reason: `${host} is a private, loopback or reserved address` };
  if (host === 'localhost' || host.endsWith('.localhost') || !host.includes('.')) return { ok: false, reason: `${host} is not a public host name` };
  let addresses: dns.LookupAddress[];
  try {
    addresses = await dns.promises.lookup(host, { all: true, verbatim: true });
  } catch {
    return { ok: false, reason: `${host} does not resolve` };
  }
  const bad = addresses.find((a) => !isPublicAddress(a.address));
  if (bad) return { ok: false, reason: `${host} resolves to ${bad.address}, a private, loopback or reserved address` };
  return { ok: true, url };
}

/** A `lookup` for http(s) agents that refuses non-public answers at connect time. */
export function guardedLookup(allowPrivate: boolean): net.LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return (callback as (e: Error | null, a: dns.LookupAddress[]) => void)(err, []);
      const list = addresses as unknown as dns.LookupAddress[];
      const bad = allowPrivate ? undefined : list.find((a) => !isPublicAddress(a.address));
      if (bad) {
        const refusal = Object.assign(new Error(`${hostname} resolves to ${bad.address}, a private address; refused`), { code: 'EADDRNOTPUBLIC' });
        return (callback as (e: Error | null, a: dns.LookupAddress[]) => void)(refusal, []);
      }
      if ((options as dns.LookupOptions).all) return (callback as (e: Error | null, a: dns.LookupAddress[]) => void)(null, list);
      const first = list[0]!;
      (callback as (e: Error | null, a: string, f: number) => void)(null, first.address, first.family);
    });
  };
}
