/**
 * The `peers:` section of weave.yaml: every box of the fleet, its name and underlay address
 * (`ip` or `ip:port`, `[ipv6]:port`). Names and endpoints are unique; a peer's port is not the
 * VXLAN port; an IPv6 underlay needs an underlay MTU of at least 1280.
 *
 * @module
 */

import {
  formatHostPort,
  formatIp,
  type IpAddress,
  isUnspecifiedOrMulticast,
  parseIp,
  splitHostPort,
} from "./ip.ts";
import { checkHostName, checkPeerName } from "./names.ts";
import type { ParseContext, TopLevel } from "./parse_context.ts";
import { MIN_UNDERLAY_MTU_IPV6 } from "./parse_scalars.ts";
import type { Peer, PeerEndpoint } from "./types.ts";
import type { YNode } from "./yaml_reader.ts";

const PEER_KEYS = ["name", "address", "key"] as const;
/** Length of an X25519 public key. */
export const X25519_KEY_BYTES = 32;
const EXAMPLE = "peers: [{name: edge-1, address: 192.0.2.10}]";

/** A peer as read, before the cross-peer checks; undefined fields were invalid (reported). */
export interface RawPeer {
  nameNode: YNode | null;
  name?: string;
  addressNode: YNode | null;
  /** Undefined: invalid (reported) or absent (`absent` is true). */
  address?: IpAddress;
  /** A DNS name instead of an IP literal. */
  host?: string;
  port?: number;
  /** No `address:` at all: dial-out only. */
  absent?: boolean;
  keyNode: YNode | null;
  /** Null: no key. Undefined: invalid (reported). */
  key?: Uint8Array | null;
  itemNode: YNode | null;
}

/** The items of `peers:` (required, non-empty); undefined when the list itself is broken. */
export function parsePeers(
  ctx: ParseContext,
  top: TopLevel,
  root: YNode,
  port: number,
): RawPeer[] | undefined {
  const e = top.get("peers");
  if (!e) {
    ctx.report.error(root, "peers is missing", `list every box of the fleet, ${EXAMPLE}`);
    return undefined;
  }
  const items = ctx.r.list(e.value, "peers", EXAMPLE);
  if (!items) return undefined;
  if (items.length === 0) {
    ctx.report.error(e.value, "peers is empty", `list every box of the fleet, ${EXAMPLE}`);
    return undefined;
  }
  return items.map((item, i) => parsePeer(ctx, item, i, port));
}

function parsePeer(ctx: ParseContext, item: YNode | null, i: number, port: number): RawPeer {
  const where = `peers[${i}]`;
  const raw: RawPeer = { nameNode: null, addressNode: null, keyNode: null, itemNode: item };
  const m = ctx.r.map(item, where, `in ${where}`, PEER_KEYS, "- name: edge-1");
  if (!m) return raw;
  const nameEntry = m.get("name");
  const addressEntry = m.get("address");
  if (!nameEntry) {
    if (m.unknownKeys.length === 0) {
      ctx.report.error(item, `${where} has no name`, 'add e.g. "name: edge-1"');
    }
  } else {
    raw.nameNode = nameEntry.value;
    const name = ctx.r.string(nameEntry.value, `${where}.name`, "name: edge-1");
    const problem = name === undefined ? null : checkPeerName(name);
    if (problem) ctx.report.error(nameEntry.value, problem.message, problem.hint);
    else raw.name = name;
  }
  const keyEntry = m.get("key");
  raw.key = null;
  if (keyEntry) {
    raw.keyNode = keyEntry.value;
    raw.key = parsePublicKey(ctx, keyEntry.value, where);
  }
  if (!addressEntry) {
    raw.absent = true;
    raw.port = port;
    if (!keyEntry && m.unknownKeys.length === 0) {
      ctx.report.error(
        item,
        `${where}${raw.name ? ` ("${raw.name}")` : ""} has neither address nor key`,
        `give its underlay address (e.g. "address: 192.0.2.10"), or, for a box behind NAT ` +
          `that only dials out, its public key ("key: <base64>" from weave-agent keygen)`,
      );
    }
    return raw;
  }
  raw.addressNode = addressEntry.value;
  const parsed = parsePeerAddress(ctx, addressEntry.value, where, port);
  if (parsed) {
    if ("ip" in parsed) raw.address = parsed.ip;
    else raw.host = parsed.host;
    raw.port = parsed.port;
  }
  return raw;
}

/** `key:`: a base64 X25519 public key of exactly 32 bytes. Undefined: invalid (reported). */
function parsePublicKey(ctx: ParseContext, node: YNode | null, where: string) {
  const example = "key: <the public key weave-agent keygen prints>";
  const text = ctx.r.string(node, `${where}.key`, example);
  if (text === undefined) return undefined;
  const hint = "paste the public key printed by weave-agent keygen (44 base64 characters); " +
    "never the private key";
  const bytes = decodeBase64(text);
  if (!bytes) {
    ctx.report.error(node, `${where}.key is not base64`, hint);
    return undefined;
  }
  if (bytes.length !== X25519_KEY_BYTES) {
    ctx.report.error(
      node,
      `${where}.key must be an X25519 public key of ${X25519_KEY_BYTES} bytes, got ` +
        `${bytes.length} bytes`,
      hint,
    );
    return undefined;
  }
  return bytes;
}

/** Standard base64 (padding required, as `base64` prints it), or null. */
export function decodeBase64(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

function parsePeerAddress(
  ctx: ParseContext,
  node: YNode | null,
  where: string,
  defaultPort: number,
): { ip: IpAddress; port: number } | { host: string; port: number } | undefined {
  const text = ctx.r.string(
    node,
    `${where}.address`,
    `address: 192.0.2.10, or quoted with a port: address: "[2001:db8::1]:6783"`,
  );
  if (text === undefined) return undefined;
  const hint = "give an IPv4 or IPv6 address of the underlay or a DNS name, optionally with " +
    ":port ([IPv6]:port)";
  const hp = splitHostPort(text);
  const ip = hp ? parseIp(hp.host) : null;
  if (hp && !ip && !hp.bracketed && !hp.host.includes(":")) {
    const problem = checkHostName(hp.host);
    if (problem) {
      ctx.report.error(node, problem.message, problem.hint);
      return undefined;
    }
    return { host: hp.host.toLowerCase().replace(/\.$/, ""), port: hp.port ?? defaultPort };
  }
  if (!hp || !ip || (hp.bracketed && ip.family !== 6)) {
    ctx.report.error(node, `"${text}" is not an IP address or ip:port`, hint);
    return undefined;
  }
  if (isUnspecifiedOrMulticast(ip)) {
    ctx.report.error(
      node,
      `${formatIp(ip)} cannot be a peer address: it is unspecified or multicast`,
      hint,
    );
    return undefined;
  }
  return { ip, port: hp.port ?? defaultPort };
}

/**
 * The cross-peer checks (unique names and endpoints, VXLAN port, IPv6 MTU); the peers when
 * every one of them is valid.
 */
export function checkPeers(
  ctx: ParseContext,
  raws: RawPeer[] | undefined,
  vxlanPort: number | undefined,
  top: TopLevel,
  underlayMtu: number,
): Peer[] | undefined {
  if (!raws) return undefined;
  const report = ctx.report;
  const byName = new Map<string, RawPeer>();
  const byEndpoint = new Map<string, RawPeer>();
  const byKey = new Map<string, RawPeer>();
  for (const p of raws) {
    if (p.key) {
      const k = p.key.join(",");
      const first = byKey.get(k);
      if (first) {
        report.error(
          p.keyNode,
          `peer "${p.name ?? "?"}" has the same key as "${first.name ?? "?"}" (line ` +
            `${report.at(first.keyNode).line})`,
          "every box has its own key pair: run weave-agent keygen on each box",
        );
      } else {
        byKey.set(k, p);
      }
    }
    if (p.name !== undefined) {
      const first = byName.get(p.name);
      if (first) {
        report.error(
          p.nameNode,
          `duplicate peer name "${p.name}" (first on line ${report.at(first.nameNode).line})`,
          "every peer needs its own name",
        );
      } else {
        byName.set(p.name, p);
      }
    }
    if ((p.address || p.host) && p.port !== undefined) {
      const endpoint = formatHostPort(p.address ? formatIp(p.address) : p.host!, p.port);
      const first = byEndpoint.get(endpoint);
      if (first) {
        report.error(
          p.addressNode,
          `duplicate peer address ${endpoint}: "${first.name ?? "?"}" (line ` +
            `${report.at(first.addressNode).line}) has it too`,
          "two peers on one box need different ports, e.g. 192.0.2.10:6790",
        );
      } else {
        byEndpoint.set(endpoint, p);
      }
      if (vxlanPort !== undefined && p.port === vxlanPort) {
        report.error(
          p.addressNode,
          `port ${p.port} of peer "${p.name ?? "?"}" is also the vxlan_port`,
          "the control/sleeve port and VXLAN need different UDP ports",
        );
      }
    }
  }
  const v6 = raws.find((p) => p.address?.family === 6);
  if (v6 && underlayMtu < MIN_UNDERLAY_MTU_IPV6) {
    report.error(
      top.get("underlay_mtu")?.value,
      `underlay_mtu ${underlayMtu} is below ${MIN_UNDERLAY_MTU_IPV6}, the minimum for IPv6, ` +
        `and peer "${v6.name ?? "?"}" has an IPv6 address`,
      `use underlay_mtu: ${MIN_UNDERLAY_MTU_IPV6} or more`,
    );
  }
  const valid = (p: RawPeer) =>
    p.name !== undefined && p.port !== undefined && p.key !== undefined &&
    (p.address !== undefined || p.host !== undefined || (p.absent === true && p.key !== null));
  if (!raws.every(valid)) return undefined;
  if (raws.length > 1 && raws.every((p) => p.absent)) {
    report.warning(
      top.get("peers")!.value,
      "no peer has an address: every peer is dial-out only, so nobody can be dialled and no " +
        "session can start",
      "give at least one peer an address (or a DNS name) the others can reach",
    );
  }
  return raws.map((p, index) => toPeer(p, index));
}

function toPeer(p: RawPeer, index: number): Peer {
  const port = p.port!;
  const endpoint: PeerEndpoint | null = p.address
    ? { kind: "ip", ip: formatIp(p.address), family: p.address.family, port }
    : p.host !== undefined
    ? { kind: "dns", host: p.host, port }
    : null;
  return {
    name: p.name!,
    address: endpoint?.kind === "ip" ? endpoint.ip : "",
    family: endpoint?.kind === "ip" ? endpoint.family : 4,
    port,
    index,
    endpoint,
    key: p.key ?? null,
  };
}
