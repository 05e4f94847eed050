/**
 * Canonical text of an IP address, so that a TCP source address can be compared with the
 * address configured for a peer (`::FFFF:10.0.0.1` is `10.0.0.1`, `fe80:0::1` is `fe80::1`).
 *
 * @module
 */

import { formatIp, parseIp } from "../../config/ip.ts";

/** The canonical form of an IPv4 or IPv6 address; anything unparsable is returned lowercased. */
export function canonicalAddress(address: string): string {
  let a = address.trim().toLowerCase();
  if (a.startsWith("[") && a.endsWith("]")) a = a.slice(1, -1);
  const zone = a.indexOf("%");
  if (zone >= 0) a = a.slice(0, zone);
  const mapped = /^(?:0{0,4}:){0,5}(?:0{0,4}:)?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a) ??
    /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) return mapped[1];
  // The config's own parser and RFC 5952 formatter: both sides of the comparison agree.
  const parsed = parseIp(a);
  if (!parsed) return a;
  const text = formatIp(parsed);
  return text.startsWith("::ffff:") && text.includes(".") ? text.slice(7) : text;
}
