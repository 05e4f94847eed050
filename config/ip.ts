/**
 * IPv4/IPv6 addresses and subnets as bigints. Parsing is strict (no octal-looking IPv4 octets,
 * no zone ids, no prefix on a plain address) because these strings reach `ip` command lines and
 * are compared for equality: one address must have one spelling, the canonical one (RFC 5952
 * for IPv6).
 *
 * @module
 */

/** An IP address: its family and its value as an unsigned integer (32 or 128 bits). */
export interface IpAddress {
  family: 4 | 6;
  value: bigint;
}

/** A subnet. `address` may have host bits set; {@link networkAddress} clears them. */
export interface Cidr {
  address: IpAddress;
  prefixLength: number;
}

/** Width in bits of an address of the family. */
export function addressBits(family: 4 | 6): number {
  return family === 4 ? 32 : 128;
}

/** Parses dotted-quad IPv4 (`192.0.2.1`); leading zeros are refused (octal ambiguity). */
export function parseIpv4(text: string): IpAddress | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    value = (value << 8n) | BigInt(n);
  }
  return { family: 4, value };
}

function parseHexGroups(text: string): bigint[] | null {
  if (text === "") return [];
  const groups: bigint[] = [];
  for (const g of text.split(":")) {
    if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return null;
    groups.push(BigInt("0x" + g));
  }
  return groups;
}

/** Parses IPv6 text (`2001:db8::1`, `::ffff:192.0.2.1`); zone ids (`%eth0`) are refused. */
export function parseIpv6(text: string): IpAddress | null {
  if (!text.includes(":")) return null;
  let head = text;
  let tail: bigint[] = [];
  // An embedded IPv4 address may only be the last 32 bits.
  const lastColon = text.lastIndexOf(":");
  const last = text.slice(lastColon + 1);
  if (last.includes(".")) {
    const v4 = parseIpv4(last);
    if (!v4) return null;
    tail = [v4.value >> 16n, v4.value & 0xffffn];
    head = text.slice(0, lastColon + 1);
    // "::192.0.2.1" keeps "::"; "64:ff9b::1:192.0.2.1" leaves a trailing single ":" to drop.
    if (head.endsWith(":") && !head.endsWith("::")) head = head.slice(0, -1);
  }
  const halves = head.split("::");
  if (halves.length > 2) return null;
  let groups: bigint[];
  if (halves.length === 2) {
    const left = parseHexGroups(halves[0]);
    const right = parseHexGroups(halves[1]);
    if (!left || !right) return null;
    const missing = 8 - left.length - right.length - tail.length;
    // "::" stands for at least one group of zeros.
    if (missing < 1) return null;
    groups = [...left, ...new Array<bigint>(missing).fill(0n), ...right, ...tail];
  } else {
    const all = parseHexGroups(head);
    if (!all) return null;
    groups = [...all, ...tail];
    if (groups.length !== 8) return null;
  }
  let value = 0n;
  for (const g of groups) value = (value << 16n) | g;
  return { family: 6, value };
}

/** Parses an IPv4 or IPv6 address; null when it is neither. */
export function parseIp(text: string): IpAddress | null {
  return text.includes(":") ? parseIpv6(text) : parseIpv4(text);
}

function toAddress(a: IpAddress | string): IpAddress {
  if (typeof a !== "string") return a;
  const parsed = parseIp(a);
  if (!parsed) throw new TypeError(`not an IP address: ${JSON.stringify(a)}`);
  return parsed;
}

function toCidr(c: Cidr | string): Cidr {
  if (typeof c !== "string") return c;
  const parsed = parseCidr(c);
  if (!parsed) throw new TypeError(`not a subnet: ${JSON.stringify(c)}`);
  return parsed;
}

function formatIpv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join(".");
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run as `::`). */
export function formatIp(address: IpAddress | string): string {
  const a = toAddress(address);
  if (a.family === 4) return formatIpv4(a.value);
  // RFC 5952 section 5: IPv4-mapped addresses keep their dotted tail.
  if (a.value >> 32n === 0xffffn) return `::ffff:${formatIpv4(a.value & 0xffffffffn)}`;
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((a.value >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 1; // a single zero group is never compressed
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  const left = hex.slice(0, bestStart).join(":");
  const right = hex.slice(bestStart + bestLen).join(":");
  return `${left}::${right}`;
}

/** Parses `address/prefix`. Host bits may be set; compare with {@link networkAddress}. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf("/");
  if (slash < 0) return null;
  const address = parseIp(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (!address || !/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) return null;
  const prefixLength = Number(prefixText);
  if (prefixLength > addressBits(address.family)) return null;
  return { address, prefixLength };
}

/** Canonical `network/prefix` text (host bits cleared). */
export function formatCidr(subnet: Cidr | string): string {
  const c = toCidr(subnet);
  return `${formatIp(networkAddress(c))}/${c.prefixLength}`;
}

function hostMask(c: Cidr): bigint {
  return (1n << BigInt(addressBits(c.address.family) - c.prefixLength)) - 1n;
}

/** Number of addresses in the subnet, network and broadcast addresses included. */
export function subnetSize(subnet: Cidr | string): bigint {
  return hostMask(toCidr(subnet)) + 1n;
}

/** First address of the subnet (host bits all zero). */
export function networkAddress(subnet: Cidr | string): IpAddress {
  const c = toCidr(subnet);
  return { family: c.address.family, value: c.address.value & ~hostMask(c) };
}

/** Last address of the subnet (host bits all one): the IPv4 broadcast address. */
export function broadcastAddress(subnet: Cidr | string): IpAddress {
  const c = toCidr(subnet);
  return { family: c.address.family, value: c.address.value | hostMask(c) };
}

/** True when the address is of the subnet's family and inside it. */
export function addressInSubnet(address: IpAddress | string, subnet: Cidr | string): boolean {
  const a = toAddress(address);
  const c = toCidr(subnet);
  if (a.family !== c.address.family) return false;
  return (a.value & ~hostMask(c)) === networkAddress(c).value;
}

/** True when the two subnets share at least one address (same family only). */
export function subnetsOverlap(a: Cidr | string, b: Cidr | string): boolean {
  const x = toCidr(a);
  const y = toCidr(b);
  if (x.address.family !== y.address.family) return false;
  // Two prefixes overlap exactly when the shorter one contains the longer one's network.
  const shorter = x.prefixLength <= y.prefixLength ? x : y;
  const longer = shorter === x ? y : x;
  return addressInSubnet(networkAddress(longer), shorter);
}

/**
 * The address `n` places after the subnet's network address, or null when that falls outside
 * the subnet (or `n` is negative).
 */
export function addOffset(subnet: Cidr | string, n: bigint | number): IpAddress | null {
  const c = toCidr(subnet);
  const offset = BigInt(n);
  if (offset < 0n || offset > hostMask(c)) return null;
  return { family: c.address.family, value: networkAddress(c).value + offset };
}

/** True for the same family and value. */
export function sameAddress(a: IpAddress | string, b: IpAddress | string): boolean {
  const x = toAddress(a);
  const y = toAddress(b);
  return x.family === y.family && x.value === y.value;
}

/** Unspecified (`0.0.0.0`, `::`) or multicast (`224.0.0.0/4`, `ff00::/8`): not a peer address. */
export function isUnspecifiedOrMulticast(address: IpAddress | string): boolean {
  const a = toAddress(address);
  if (a.value === 0n) return true;
  return a.family === 4 ? a.value >> 28n === 0xen : a.value >> 120n === 0xffn;
}

/** `host:port` / `[v6]:port` split. `port` is undefined when absent; null when malformed. */
export interface HostPort {
  host: string;
  port: number | undefined;
  /** True when the host was written in brackets. */
  bracketed: boolean;
}

/**
 * Splits `192.0.2.1`, `192.0.2.1:7000`, `2001:db8::1`, `[2001:db8::1]:7000`, `name:9100`.
 * Returns null when the shape is wrong (unclosed bracket, bad or out-of-range port). A bare
 * IPv6 address cannot carry a port: the last group would be ambiguous.
 */
export function splitHostPort(text: string): HostPort | null {
  let host: string;
  let portText: string | undefined;
  let bracketed = false;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) return null;
    host = text.slice(1, close);
    bracketed = true;
    const rest = text.slice(close + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) return null;
      portText = rest.slice(1);
    }
  } else {
    const colons = text.split(":").length - 1;
    if (colons === 1) {
      [host, portText] = text.split(":");
    } else {
      host = text;
    }
  }
  let port: number | undefined;
  if (portText !== undefined) {
    if (!/^[1-9][0-9]{0,4}$/.test(portText)) return null;
    port = Number(portText);
    if (port > 65535) return null;
  }
  return { host, port, bracketed };
}

/** `192.0.2.1:7000` or `[2001:db8::1]:7000`. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
