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
import { checkPeerName } from "./names.ts";
import type { ParseContext, TopLevel } from "./parse_context.ts";
import { MIN_UNDERLAY_MTU_IPV6 } from "./parse_scalars.ts";
import type { Peer } from "./types.ts";
import type { YNode } from "./yaml_reader.ts";

const PEER_KEYS = ["name", "address"] as const;
const EXAMPLE = "peers: [{name: edge-1, address: 192.0.2.10}]";

/** A peer as read, before the cross-peer checks; undefined fields were invalid (reported). */
export interface RawPeer {
  nameNode: YNode | null;
  name?: string;
  addressNode: YNode | null;
  address?: IpAddress;
  port?: number;
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
  const raw: RawPeer = { nameNode: null, addressNode: null, itemNode: item };
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
  if (!addressEntry) {
    if (m.unknownKeys.length === 0) {
      ctx.report.error(item, `${where} has no address`, 'add e.g. "address: 192.0.2.10"');
    }
    return raw;
  }
  raw.addressNode = addressEntry.value;
  const parsed = parsePeerAddress(ctx, addressEntry.value, where, port);
  if (parsed) {
    raw.address = parsed.ip;
    raw.port = parsed.port;
  }
  return raw;
}

function parsePeerAddress(
  ctx: ParseContext,
  node: YNode | null,
  where: string,
  defaultPort: number,
): { ip: IpAddress; port: number } | undefined {
  const text = ctx.r.string(
    node,
    `${where}.address`,
    `address: 192.0.2.10, or quoted with a port: address: "[2001:db8::1]:6783"`,
  );
  if (text === undefined) return undefined;
  const hint = "give an IPv4 or IPv6 address of the underlay, optionally with :port " +
    "([IPv6]:port); host names are not resolved";
  const hp = splitHostPort(text);
  const ip = hp ? parseIp(hp.host) : null;
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
  for (const p of raws) {
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
    if (p.address && p.port !== undefined) {
      const endpoint = formatHostPort(formatIp(p.address), p.port);
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
  if (raws.some((p) => p.name === undefined || !p.address || p.port === undefined)) {
    return undefined;
  }
  return raws.map((p, index) => ({
    name: p.name!,
    address: formatIp(p.address!),
    family: p.address!.family,
    port: p.port!,
    index,
  }));
}
