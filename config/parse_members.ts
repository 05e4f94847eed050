/**
 * `networks[].members`: a map of peer name to overlay address (empty: derived from the subnet
 * and the peer's position), or absent for every peer. Explicit addresses are inside the subnet,
 * not its network or broadcast address, and unique; derived ones never take an explicit one.
 *
 * @module
 */

import { isMap, isScalar, type Scalar, type YAMLMap } from "./yaml.ts";
import { describeList } from "./describe.ts";
import { didYouMean } from "./did_you_mean.ts";
import { deriveMemberAddress } from "./derive.ts";
import type { Entry } from "./yaml_reader.ts";
import {
  addressInSubnet,
  broadcastAddress,
  type Cidr,
  formatCidr,
  formatIp,
  type IpAddress,
  networkAddress,
  parseIp,
  sameAddress,
} from "./ip.ts";
import type { ParseContext } from "./parse_context.ts";
import type { Member, Peer } from "./types.ts";
import { describeValue, type YNode } from "./yaml_reader.ts";

/** One `peer: address` of a members map as read. */
export interface RawMember {
  peer: string;
  keyNode: Scalar;
  valueNode: YNode | null;
  /** Null: derive it. Undefined: invalid (already reported). */
  address: IpAddress | null | undefined;
}

/** The members map of `where` (e.g. `networks[0]`); undefined when invalid (reported). */
export function parseMembers(ctx: ParseContext, e: Entry, where: string): RawMember[] | undefined {
  const emptyHint = "list peer names under it, or remove members: to include every peer";
  if (isScalar(e.value) && e.value.value === null) {
    ctx.report.error(e.key, `${where}.members is empty`, emptyHint);
    return undefined;
  }
  if (!isMap(e.value)) {
    ctx.report.error(
      e.value,
      `${where}.members must be a map of peer name to address, got ${describeValue(e.value)}`,
      'e.g. "members: {edge-1: 10.32.1.1, edge-2: }" (an empty address is derived)',
    );
    return undefined;
  }
  const map = e.value as YAMLMap;
  if (map.items.length === 0) {
    ctx.report.error(map, `${where}.members is empty`, emptyHint);
    return undefined;
  }
  const members: RawMember[] = [];
  const seen = new Map<string, Scalar>();
  let ok = true;
  for (const pair of map.items) {
    const key = ctx.r.resolve(pair.key);
    if (!isScalar(key) || typeof key.value !== "string") {
      ctx.report.error(
        key ?? map,
        `members of ${where} must be peer names, got ${describeValue(key)}`,
        'quote names that look like numbers, e.g. "1": 10.32.1.1',
      );
      ok = false;
      continue;
    }
    const first = seen.get(key.value);
    if (first) {
      ctx.report.error(
        key,
        `peer "${key.value}" is listed twice in ${where}.members (first on line ` +
          `${ctx.report.at(first).line})`,
        "keep one of them",
      );
      ok = false;
      continue;
    }
    seen.set(key.value, key);
    const valueNode = ctx.r.resolve(pair.value);
    const address = memberAddress(ctx, key.value, valueNode, where);
    if (address === undefined) ok = false;
    members.push({ peer: key.value, keyNode: key, valueNode, address });
  }
  return ok ? members : undefined;
}

/** Null: empty (derive). Undefined: invalid (reported). */
function memberAddress(
  ctx: ParseContext,
  peer: string,
  node: YNode | null,
  where: string,
): IpAddress | null | undefined {
  if (!node || (isScalar(node) && node.value === null)) return null;
  const text = ctx.r.string(node, `address of "${peer}" in ${where}`, `${peer}: 10.32.1.1`);
  if (text === undefined) return undefined;
  const address = parseIp(text);
  if (address) return address;
  ctx.report.error(
    node,
    `"${text}" is not an IP address`,
    text.includes("/")
      ? "write the address alone; the prefix length comes from the subnet"
      : "write an address of the network's subnet, or leave it empty to derive one",
  );
  return undefined;
}

/** What {@link resolveMembers} needs to know about the network. */
export interface MemberScope {
  /** The network's name, for messages. */
  name: string;
  subnet: Cidr;
  /** Null: every peer. */
  members: RawMember[] | null;
  /** Where derived-address errors of implicit members are reported. */
  subnetNode: YNode | null;
}

/**
 * The members of a network, resolved against the peers, in peer order: explicit addresses
 * checked, the others derived. Undefined when any is invalid (reported).
 */
export function resolveMembers(
  ctx: ParseContext,
  n: MemberScope,
  peers: Peer[],
): Member[] | undefined {
  // Every step runs even after an error, so one run reports every problem.
  const wanted = wantedMembers(ctx, n, peers);
  const explicit = checkExplicitAddresses(ctx, n, wanted.value);
  const members = deriveTheRest(ctx, n, wanted.value, explicit.value);
  return wanted.ok && explicit.ok && members.ok ? members.value : undefined;
}

/** A step's result, and whether it reported an error. */
interface Checked<T> {
  value: T;
  ok: boolean;
}

interface Wanted {
  peer: Peer;
  raw?: RawMember;
}

function wantedMembers(ctx: ParseContext, n: MemberScope, peers: Peer[]): Checked<Wanted[]> {
  if (n.members === null) return { value: peers.map((peer) => ({ peer })), ok: true };
  const peerNames = peers.map((p) => p.name);
  const byName = new Map(peers.map((p) => [p.name, p]));
  const wanted: Wanted[] = [];
  let ok = true;
  for (const m of n.members) {
    const peer = byName.get(m.peer);
    if (!peer) {
      ctx.report.error(
        m.keyNode,
        `unknown peer "${m.peer}" in members of network "${n.name}"` +
          didYouMean(m.peer, peerNames),
        `members must be names listed under peers: (${describeList(peerNames, "peers")})`,
      );
      ok = false;
      continue;
    }
    wanted.push({ peer, raw: m });
  }
  wanted.sort((a, b) => a.peer.index - b.peer.index);
  return { value: wanted, ok };
}

/** Explicit addresses first: derived ones must not take an address written in the file. */
function checkExplicitAddresses(
  ctx: ParseContext,
  n: MemberScope,
  wanted: Wanted[],
): Checked<Map<string, RawMember>> {
  const { report } = ctx;
  const { subnet, name } = n;
  const cidr = formatCidr(subnet);
  const explicit = new Map<string, RawMember>();
  let ok = true;
  for (const { raw } of wanted) {
    if (!raw?.address) continue;
    const a = raw.address;
    const text = formatIp(a);
    if (!addressInSubnet(a, subnet)) {
      report.error(
        raw.valueNode,
        `address ${text} of "${raw.peer}" is outside subnet ${cidr} of network "${name}"`,
        `use an address inside ${cidr}, or leave it empty to derive one`,
      );
      ok = false;
      continue;
    }
    const special = specialAddress(a, subnet);
    if (special) {
      report.error(
        raw.valueNode,
        `address ${text} of "${raw.peer}" is the ${special} address of ${cidr}`,
        `use a host address, e.g. ${formatIp(firstHost(subnet))}`,
      );
      ok = false;
      continue;
    }
    const first = explicit.get(text);
    if (first) {
      report.error(
        raw.valueNode,
        `address ${text} is given to both "${first.peer}" and "${raw.peer}" in network "${name}"`,
        "every member needs its own address",
      );
      ok = false;
      continue;
    }
    explicit.set(text, raw);
  }
  return { value: explicit, ok };
}

function deriveTheRest(
  ctx: ParseContext,
  n: MemberScope,
  wanted: Wanted[],
  explicit: Map<string, RawMember>,
): Checked<Member[]> {
  const { report } = ctx;
  const { subnet, name } = n;
  const cidr = formatCidr(subnet);
  const members: Member[] = [];
  let ok = true;
  for (const { peer, raw } of wanted) {
    if (raw?.address) {
      members.push({ peer: peer.name, address: formatIp(raw.address), derived: false });
      continue;
    }
    const at = raw?.keyNode ?? n.subnetNode;
    const hint = `give "${peer.name}" an explicit address under members: of network "${name}"`;
    const d = deriveMemberAddress(subnet, peer.index);
    if ("problem" in d) {
      report.error(
        at,
        d.problem === "outside"
          ? `derived address of "${peer.name}" (peer #${peer.index + 1}) in network "${name}" ` +
            `would fall outside ${cidr}`
          : `derived address of "${peer.name}" in network "${name}" would be ` +
            `${formatIp(d.address!)}, the broadcast address of ${cidr}`,
        `${hint}, or use a larger subnet`,
      );
      ok = false;
      continue;
    }
    const text = formatIp(d.address);
    const taken = explicit.get(text);
    if (taken) {
      report.error(
        at,
        `derived address ${text} of "${peer.name}" in network "${name}" is already given ` +
          `to "${taken.peer}" (line ${report.at(taken.valueNode).line})`,
        hint,
      );
      ok = false;
      continue;
    }
    members.push({ peer: peer.name, address: text, derived: true });
  }
  return { value: members, ok };
}

/** `network` or `broadcast` when an IPv4 address is one of them (IPv6 has no broadcast). */
export function specialAddress(a: IpAddress, subnet: Cidr): "network" | "broadcast" | null {
  if (subnet.address.family !== 4) return null;
  if (sameAddress(a, networkAddress(subnet))) return "network";
  if (sameAddress(a, broadcastAddress(subnet))) return "broadcast";
  return null;
}

/** The first host address of a subnet, for hints. */
export function firstHost(subnet: Cidr): IpAddress {
  return { family: subnet.address.family, value: networkAddress(subnet).value + 1n };
}
