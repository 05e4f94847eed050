/**
 * `workloads:` (network namespaces that join a network on a box) and `routes:` (one-way
 * forwarding between two networks). A workload lives on a peer that is a member of its network;
 * its address is inside the subnet and clashes with no member or other workload; when absent it
 * is derived from the workload's name alone, so adding or removing other entries never moves it.
 *
 * @module
 */

import { describeList } from "./describe.ts";
import { didYouMean } from "./did_you_mean.ts";
import { hashVni } from "./derive.ts";
import {
  addressBits,
  addressInSubnet,
  type Cidr,
  formatCidr,
  formatIp,
  type IpAddress,
  networkAddress,
  parseCidr,
  parseIp,
} from "./ip.ts";
import { checkDnsLabel } from "./names.ts";
import type { ParseContext, TopLevel } from "./parse_context.ts";
import { parseLabels } from "./parse_labels.ts";
import { specialAddress } from "./parse_members.ts";
import type { NetnsRef, Network, Peer, Route, Workload } from "./types.ts";
import type { YNode } from "./yaml_reader.ts";

const WORKLOAD_KEYS = ["name", "peer", "network", "address", "netns", "labels"] as const;
const ROUTE_KEYS = ["from", "to"] as const;
const NETNS_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const NETNS_PATH = /^(\/[A-Za-z0-9._-]+)+$/;
const EXAMPLE = "- {name: cam-1, peer: edge-1, network: cameras, netns: cam1}";

interface RawWorkload {
  node: YNode | null;
  name?: string;
  nameNode: YNode | null;
  peer?: string;
  peerNode: YNode | null;
  network?: string;
  networkNode: YNode | null;
  address?: IpAddress | null;
  addressNode: YNode | null;
  netns?: NetnsRef;
  labels?: Record<string, string>;
}

/** `workloads:` resolved against peers and networks; [] when absent; undefined when invalid. */
export function parseWorkloads(
  ctx: ParseContext,
  top: TopLevel,
  peers: Peer[] | undefined,
  networks: Network[] | undefined,
): Workload[] | undefined {
  const e = top.get("workloads");
  if (!e) return [];
  const items = ctx.r.list(e.value, "workloads", EXAMPLE);
  if (!items) return undefined;
  const raws = items.map((item, i) => readWorkload(ctx, item, `workloads[${i}]`));
  if (!peers || !networks) return undefined;
  return resolveWorkloads(ctx, raws, peers, networks);
}

function readWorkload(ctx: ParseContext, item: YNode | null, where: string): RawWorkload {
  const raw: RawWorkload = {
    node: item,
    nameNode: null,
    peerNode: null,
    networkNode: null,
    addressNode: null,
  };
  const m = ctx.r.map(item, where, `in ${where}`, WORKLOAD_KEYS, EXAMPLE.slice(2));
  if (!m) return raw;
  for (const key of ["name", "peer", "network", "netns"] as const) {
    if (!m.get(key) && m.unknownKeys.length === 0) {
      ctx.report.error(item, `${where} has no ${key}`, `e.g. ${EXAMPLE.slice(2)}`);
    }
  }
  const text = (key: string, example: string) => {
    const entry = m.get(key);
    return entry
      ? { node: entry.value, text: ctx.r.string(entry.value, `${where}.${key}`, example) }
      : undefined;
  };
  const name = text("name", "name: cam-1");
  if (name) {
    raw.nameNode = name.node;
    const problem = name.text === undefined ? null : checkDnsLabel(name.text, "workload name");
    if (problem) ctx.report.error(name.node, problem.message, problem.hint);
    else raw.name = name.text;
  }
  const peer = text("peer", "peer: edge-1");
  if (peer) [raw.peerNode, raw.peer] = [peer.node, peer.text];
  const network = text("network", "network: cameras");
  if (network) [raw.networkNode, raw.network] = [network.node, network.text];
  const address = text("address", "address: 10.32.2.10");
  raw.address = null;
  if (address) {
    raw.addressNode = address.node;
    raw.address = address.text === undefined ? undefined : parseIp(address.text) ?? undefined;
    if (address.text !== undefined && !raw.address) {
      ctx.report.error(
        address.node,
        `"${address.text}" is not an IP address`,
        "write an address of the network's subnet, or remove address: to derive one",
      );
    }
  }
  const netns = text("netns", "netns: cam1");
  if (netns?.text !== undefined) raw.netns = parseNetns(ctx, netns.node, netns.text);
  const labels = m.get("labels");
  raw.labels = labels
    ? parseLabels(ctx, labels.value, `${where}.labels`, { refuseReserved: true })
    : {};
  return raw;
}

/** A name under /run/netns, or an absolute path without `..` (it reaches `ip netns exec`). */
function parseNetns(ctx: ParseContext, node: YNode | null, text: string): NetnsRef | undefined {
  if (text.startsWith("/")) {
    if (NETNS_PATH.test(text) && !text.split("/").some((s) => s === "." || s === "..")) {
      return { kind: "path", path: text };
    }
  } else if (NETNS_NAME.test(text)) {
    return { kind: "name", name: text };
  }
  ctx.report.error(
    node,
    `netns "${text}" is neither a namespace name nor an absolute path`,
    "give a name under /run/netns (letters, digits, . _ -), or a path such as /proc/1234/ns/net",
  );
  return undefined;
}

interface Placed {
  raw: RawWorkload;
  net: Network;
  subnet: Cidr;
}

function resolveWorkloads(
  ctx: ParseContext,
  raws: RawWorkload[],
  peers: Peer[],
  networks: Network[],
): Workload[] | undefined {
  const byName = new Map<string, RawWorkload>();
  // Looked up by name, once: a scan per workload was O(workloads × peers) for a big fleet.
  const peerByName = new Map(peers.map((p) => [p.name, p]));
  const membersOf = new Map(networks.map((n) => [n.name, new Set(n.members.map((m) => m.peer))]));
  const placed: Placed[] = [];
  let ok = true;
  for (const w of raws) {
    const p = resolveRefs(ctx, w, byName, { peerByName, membersOf, networks });
    if (p) placed.push(p);
    else ok = false;
  }
  const addresses = assignAddresses(ctx, placed, networks);
  if (!addresses) ok = false;
  if (!ok || !addresses) return undefined;
  return placed.map(({ raw, net }) => ({
    name: raw.name!,
    peer: raw.peer!,
    network: net.name,
    address: addresses.get(raw)!,
    derived: raw.address === null,
    netns: raw.netns!,
    labels: raw.labels!,
  }));
}

/** What a workload's references resolve against: peers by name, each network's member names. */
interface FleetIndex {
  peerByName: ReadonlyMap<string, Peer>;
  membersOf: ReadonlyMap<string, ReadonlySet<string>>;
  networks: Network[];
}

/** The workload's name is unique, its network and peer exist, and the peer is a member. */
function resolveRefs(
  ctx: ParseContext,
  w: RawWorkload,
  byName: Map<string, RawWorkload>,
  { peerByName, membersOf, networks }: FleetIndex,
): Placed | undefined {
  const { report } = ctx;
  if (
    w.name === undefined || w.peer === undefined || w.network === undefined || !w.netns ||
    w.address === undefined || !w.labels
  ) {
    return undefined;
  }
  const first = byName.get(w.name);
  if (first) {
    report.error(
      w.nameNode,
      `duplicate workload name "${w.name}" (first on line ${report.at(first.nameNode).line})`,
      "every workload needs its own name",
    );
    return undefined;
  }
  byName.set(w.name, w);
  const net = networks.find((n) => n.name === w.network);
  if (!net) {
    const names = networks.map((n) => n.name);
    report.error(
      w.networkNode,
      `unknown network "${w.network}" for workload "${w.name}"` + didYouMean(w.network, names),
      `networks: ${names.join(", ")}`,
    );
    return undefined;
  }
  const peer = peerByName.get(w.peer);
  if (!peer) {
    const names = [...peerByName.keys()];
    report.error(
      w.peerNode,
      `unknown peer "${w.peer}" for workload "${w.name}"` + didYouMean(w.peer, names),
      `peers: ${describeList(names, null)}`,
    );
    return undefined;
  }
  if (!membersOf.get(net.name)?.has(peer.name)) {
    report.error(
      w.peerNode,
      `workload "${w.name}" is on peer "${peer.name}", which is not a member of network ` +
        `"${net.name}"`,
      `add "${peer.name}" to the members of "${net.name}", or move the workload`,
    );
    return undefined;
  }
  return { raw: w, net, subnet: parseCidr(net.subnet)! };
}

/**
 * Every workload's address: explicit ones checked first, so derived ones step around them;
 * derived ones in name order, so reordering the list never moves an address.
 */
function assignAddresses(
  ctx: ParseContext,
  placed: Placed[],
  networks: Network[],
): Map<RawWorkload, string> | undefined {
  const taken = new Map<string, string>(); // "network/address" → who has it
  for (const n of networks) {
    for (const m of n.members) taken.set(`${n.name}/${m.address}`, `peer "${m.peer}"`);
  }
  const out = new Map<RawWorkload, string>();
  let ok = true;
  for (const { raw, net, subnet } of placed) {
    if (!raw.address) continue;
    if (checkExplicit(ctx, raw, raw.address, net, subnet, taken)) {
      out.set(raw, formatIp(raw.address));
    } else {
      ok = false;
    }
  }
  const derived = placed.filter((p) => p.raw.address === null)
    .toSorted((a, b) => a.raw.name! < b.raw.name! ? -1 : 1);
  for (const { raw, net, subnet } of derived) {
    const isTaken = (a: IpAddress) => taken.has(`${net.name}/${formatIp(a)}`);
    const address = deriveWorkloadAddress(subnet, raw.name!, isTaken);
    if (!address) {
      ctx.report.error(
        raw.nameNode,
        `no free address left in ${net.subnet} for workload "${raw.name}"`,
        "use a larger subnet or give explicit addresses",
      );
      ok = false;
      continue;
    }
    taken.set(`${net.name}/${formatIp(address)}`, `workload "${raw.name}"`);
    out.set(raw, formatIp(address));
  }
  return ok ? out : undefined;
}

function checkExplicit(
  ctx: ParseContext,
  raw: RawWorkload,
  a: IpAddress,
  net: Network,
  subnet: Cidr,
  taken: Map<string, string>,
): boolean {
  const text = formatIp(a);
  if (!addressInSubnet(a, subnet)) {
    ctx.report.error(
      raw.addressNode,
      `address ${text} of workload "${raw.name}" is outside subnet ${net.subnet} of network ` +
        `"${net.name}"`,
      `use an address inside ${net.subnet}, or remove address: to derive one`,
    );
    return false;
  }
  const special = specialAddress(a, subnet);
  if (special) {
    ctx.report.error(
      raw.addressNode,
      `address ${text} of workload "${raw.name}" is the ${special} address of ${net.subnet}`,
      "use a host address",
    );
    return false;
  }
  const key = `${net.name}/${text}`;
  const owner = taken.get(key);
  if (owner) {
    ctx.report.error(
      raw.addressNode,
      `address ${text} of workload "${raw.name}" is already given to ${owner} in network ` +
        `"${net.name}"`,
      "every member and workload needs its own address",
    );
    return false;
  }
  taken.set(key, `workload "${raw.name}"`);
  return true;
}

/**
 * A stable address for workload `name`: a hash of the name picks a host in the upper half of
 * the subnet (members are derived from the bottom), stepping up past taken addresses. Null when
 * the subnet is full.
 */
export function deriveWorkloadAddress(
  subnet: Cidr,
  name: string,
  isTaken: (a: IpAddress) => boolean,
): IpAddress | null {
  const hostBits = addressBits(subnet.address.family) - subnet.prefixLength;
  const size = 1n << BigInt(hostBits);
  const base = networkAddress(subnet).value;
  // Hosts 1..size-2 (v4 has network and broadcast; v6 keeps the same range for simplicity).
  const hosts = size - 2n;
  const half = hosts / 2n;
  const start = half + BigInt(hashVni(`workload/${name}`)) % (hosts - half);
  for (let i = 0n; i < hosts; i++) {
    const offset = 1n + (start - 1n + i) % hosts;
    const a: IpAddress = { family: subnet.address.family, value: base + offset };
    if (!isTaken(a)) return a;
  }
  return null;
}

/** `routes: [{from, to}]`: both known networks of the same family, distinct, not repeated. */
export function parseRoutes(
  ctx: ParseContext,
  top: TopLevel,
  networks: Network[] | undefined,
): Route[] | undefined {
  const e = top.get("routes");
  if (!e) return [];
  const items = ctx.r.list(e.value, "routes", "routes: [{from: sensors, to: cameras}]");
  if (!items) return undefined;
  const routes: Route[] = [];
  const seen = new Map<string, YNode | null>();
  let ok = true;
  for (const [i, item] of items.entries()) {
    const where = `routes[${i}]`;
    const m = ctx.r.map(item, where, `in ${where}`, ROUTE_KEYS, "{from: sensors, to: cameras}");
    if (!m) {
      ok = false;
      continue;
    }
    const ends: Network[] = [];
    for (const key of ROUTE_KEYS) {
      const entry = m.get(key);
      if (!entry) {
        if (m.unknownKeys.length === 0) {
          ctx.report.error(item, `${where} has no ${key}`, "e.g. {from: sensors, to: cameras}");
        }
        continue;
      }
      const name = ctx.r.string(entry.value, `${where}.${key}`, `${key}: sensors`);
      if (name === undefined || !networks) continue;
      const net = networks.find((n) => n.name === name);
      if (!net) {
        ctx.report.error(
          entry.value,
          `unknown network "${name}" in ${where}.${key}` +
            didYouMean(name, networks.map((n) => n.name)),
          `networks: ${networks.map((n) => n.name).join(", ")}`,
        );
        continue;
      }
      ends.push(net);
    }
    if (ends.length !== 2) {
      ok = false;
      continue;
    }
    const [from, to] = ends;
    if (from.name === to.name) {
      ctx.report.error(
        item,
        `${where} routes network "${from.name}" to itself`,
        "a network already reaches itself; routes join two networks",
      );
      ok = false;
      continue;
    }
    if (from.family !== to.family) {
      ctx.report.error(
        item,
        `${where}: ${from.name} (${
          formatCidr(from.subnet)
        }) and ${to.name} (${to.subnet}) are of different IP families`,
        "routes join networks of the same family",
      );
      ok = false;
      continue;
    }
    const key = `${from.name}>${to.name}`;
    if (seen.has(key)) {
      ctx.report.error(
        item,
        `route from ${from.name} to ${to.name} is listed twice (first on line ${
          ctx.report.at(seen.get(key)).line
        })`,
        "keep one of them",
      );
      ok = false;
      continue;
    }
    seen.set(key, item);
    const both = from.members.filter((m) => to.members.some((t) => t.peer === m.peer));
    if (both.length === 0) {
      ctx.report.warning(
        item,
        `${where}: no peer is a member of both ${from.name} and ${to.name}, so no box can ` +
          "forward between them",
        `add a peer to the members of both networks to carry the route`,
      );
    }
    routes.push({ from: from.name, to: to.name });
  }
  return ok ? routes : undefined;
}
