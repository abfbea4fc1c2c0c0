// The SSRF guard for outbound webhooks: a target's host is resolved here, every address it resolves
// to is checked, and the request is then pinned to the checked address (so a second DNS answer —
// rebinding — cannot send it elsewhere). Loopback, private, link-local, CGNAT, multicast, reserved
// and cloud-metadata addresses are refused unless private targets are allowed (development).
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { badRequest } from '../errors.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** How host names are resolved: the system resolver by default; tests inject their own. */
export type HostResolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: HostResolver = async (hostname) => {
  const answers = await lookup(hostname, { all: true, verbatim: true });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this" network
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // CGNAT (also Alibaba's metadata 100.100.100.200)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (AWS/GCP/Azure metadata 169.254.169.254)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['64:ff9b:1::', 48], // local NAT64
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local (AWS metadata fd00:ec2::254)
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d) or NAT64 (64:ff9b::/96) IPv6 address. */
function embeddedIPv4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const m = /^(?:::ffff:|64:ff9b::)(?:0:)?(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (m) return m[1];
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (!hex) return undefined;
  const hi = Number.parseInt(hex[1]!, 16);
  const lo = Number.parseInt(hex[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** True for an address a webhook may never reach in production. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family !== 6) return true; // not an address at all: refuse
  const v4 = embeddedIPv4(address);
  if (v4) return blocked.check(v4, 'ipv4');
  return blocked.check(address, 'ipv6');
}

export interface TargetOptions {
  allowPrivate: boolean;
  /** https only (production). */
  requireHttps: boolean;
  resolve?: HostResolver;
}

/** The URL's syntax: absolute http(s), no credentials, a host. 400 with the reason otherwise. */
export function parseTargetUrl(raw: string, requireHttps: boolean): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw badRequest('url: give an absolute URL such as https://example.com/webhooks/woopdi.');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && !requireHttps)) {
    throw badRequest(requireHttps ? 'url: webhook URLs must use https.' : 'url: use an http or https URL.');
  }
  if (url.username || url.password) throw badRequest('url: leave credentials out of the URL.');
  if (!url.hostname) throw badRequest('url: the URL needs a host.');
  return url;
}

/**
 * Resolves the URL's host and checks every address; answers the one to connect to. Refused (400)
 * when any address is private (unless allowed) or the name does not resolve.
 */
export async function checkTarget(url: URL, options: TargetOptions): Promise<ResolvedAddress> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const literal = isIP(host);
  let addresses: ResolvedAddress[];
  if (literal) addresses = [{ address: host, family: literal === 6 ? 6 : 4 }];
  else {
    try {
      addresses = await (options.resolve ?? systemResolver)(host);
    } catch {
      throw badRequest(`url: the host ${host} does not resolve.`);
    }
    if (addresses.length === 0) throw badRequest(`url: the host ${host} does not resolve.`);
  }
  if (!options.allowPrivate) {
    const bad = addresses.find((a) => isPrivateAddress(a.address));
    if (bad) {
      throw badRequest(
        `url: ${host} resolves to ${bad.address}, a private, loopback, link-local or metadata address; webhooks are only sent to public addresses.`,
      );
    }
  }
  return addresses[0]!;
}
