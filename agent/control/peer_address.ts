/**
 * Canonical text of an IP address, so that a TCP source address can be compared with the
 * address configured for a peer (`::FFFF:10.0.0.1` is `10.0.0.1`, `fe80:0::1` is `fe80::1`).
 * Parsing and RFC 5952 formatting are the config's own (`config/ip.ts`, through `config/mod.ts`),
 * so both sides of the comparison agree; this file adds only what a socket address carries
 * beyond a configured one: brackets, a zone, and the IPv4-mapped form of a dual-stack socket.
 *
 * @module
 */

import { lookup } from "node:dns/promises";
import { formatIp, parseIp } from "../../config/mod.ts";

/** The text `formatIp` gives an IPv4-mapped IPv6 address before its dotted quad. */
const MAPPED_PREFIX = "::ffff:";

/** The canonical form of an IPv4 or IPv6 address; anything unparsable is returned lowercased. */
export function canonicalAddress(address: string): string {
  let a = address.trim().toLowerCase();
  if (a.startsWith("[") && a.endsWith("]")) a = a.slice(1, -1);
  const zone = a.indexOf("%");
  if (zone >= 0) a = a.slice(0, zone);
  const parsed = parseIp(a);
  if (!parsed) return a;
  const text = formatIp(parsed);
  // A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d; the config names it a.b.c.d.
  return text.startsWith(MAPPED_PREFIX) && text.includes(".")
    ? text.slice(MAPPED_PREFIX.length)
    : text;
}

/**
 * Resolves a peer's DNS name for one dial, through the system resolver (getaddrinfo: it reads
 * `/etc/hosts`, which `ip netns exec` replaces with `/etc/netns/<ns>/hosts`, then DNS), IPv4
 * and IPv6, in the resolver's order; canonical addresses, no duplicates. Nothing is cached here:
 * every dial asks again, so a re-pointed name is followed at the next dial. (`Deno.resolveDns`
 * asks DNS servers only and never reads the hosts file.)
 */
export async function resolveHost(host: string): Promise<string[]> {
  const found = await lookup(host, { all: true, verbatim: true });
  return [...new Set(found.map((a) => canonicalAddress(a.address)))];
}
