/**
 * The `networks:` section of weave.yaml: isolated layer-2 networks with a name, a subnet, an
 * optional VNI (derived from the name when absent) and members. Names, VNIs and subnets are
 * unique and do not overlap; an IPv6 subnet needs an overlay MTU of at least 1280.
 *
 * @module
 */

import { networkMtu } from "../datapath/mtu.ts";
import { assignVnis, MAX_VNI } from "./derive.ts";
import {
  addressBits,
  type Cidr,
  formatCidr,
  networkAddress,
  parseCidr,
  subnetsOverlap,
} from "./ip.ts";
import { checkNetworkName } from "./names.ts";
import type { ParseContext, TopLevel } from "./parse_context.ts";
import { parseMembers, type RawMember, resolveMembers } from "./parse_members.ts";
import { MIN_IPV6_LINK_MTU } from "./parse_scalars.ts";
import { NETWORK_NAME_LABEL, parseLabels } from "./parse_labels.ts";
import type { DatapathMode, Labels, Network, Peer } from "./types.ts";
import type { YNode } from "./yaml_reader.ts";

const NETWORK_KEYS = ["name", "subnet", "vni", "members", "labels"] as const;
const EXAMPLE = "networks: [{name: sensors, subnet: 10.32.1.0/24}]";

/** A network as read, before the cross-network checks; undefined fields were invalid. */
export interface RawNetwork {
  itemNode: YNode | null;
  nameNode: YNode | null;
  name?: string;
  subnetNode: YNode | null;
  subnet?: Cidr;
  vniNode: YNode | null;
  /** Null: derive it. Undefined: invalid. */
  vni?: number | null;
  /** Null: every peer. Undefined: invalid. */
  members?: RawMember[] | null;
  /** `labels:` as written ({} when absent). Undefined: invalid. */
  labels?: Labels;
  labelsNode?: YNode | null;
}

/** What the overlay MTU of an IPv6 network depends on. */
export interface MtuInputs {
  underlayMtu: number;
  datapath: DatapathMode;
  encrypted: boolean;
  underlayFamily: 4 | 6;
}

/** The items of `networks:` (absent or empty: a warning); undefined when the list is broken. */
export function parseNetworks(
  ctx: ParseContext,
  top: TopLevel,
  root: YNode,
): RawNetwork[] | undefined {
  const e = top.get("networks");
  if (!e) {
    ctx.report.warning(
      root,
      "no networks: peers will connect but carry no traffic",
      `add e.g. ${EXAMPLE}`,
    );
    return [];
  }
  const items = ctx.r.list(e.value, "networks", EXAMPLE);
  if (!items) return undefined;
  if (items.length === 0) {
    ctx.report.warning(
      e.value,
      "networks is empty: peers will connect but carry no traffic",
      `add e.g. ${EXAMPLE}`,
    );
  }
  return items.map((item, i) => parseNetwork(ctx, item, i));
}

function parseNetwork(ctx: ParseContext, item: YNode | null, i: number): RawNetwork {
  const where = `networks[${i}]`;
  const raw: RawNetwork = { itemNode: item, nameNode: null, subnetNode: null, vniNode: null };
  const m = ctx.r.map(item, where, `in ${where}`, NETWORK_KEYS, "- name: sensors");
  if (!m) return raw;
  const nameEntry = m.get("name");
  if (!nameEntry) {
    if (m.unknownKeys.length === 0) {
      ctx.report.error(item, `${where} has no name`, 'add e.g. "name: sensors"');
    }
  } else {
    raw.nameNode = nameEntry.value;
    const name = ctx.r.string(nameEntry.value, `${where}.name`, "name: sensors");
    const problem = name === undefined ? null : checkNetworkName(name);
    if (problem) ctx.report.error(nameEntry.value, problem.message, problem.hint);
    else raw.name = name;
  }
  const subnetEntry = m.get("subnet");
  if (!subnetEntry) {
    if (m.unknownKeys.length === 0) {
      ctx.report.error(item, `${where} has no subnet`, 'add e.g. "subnet: 10.32.1.0/24"');
    }
  } else {
    raw.subnetNode = subnetEntry.value;
    raw.subnet = parseSubnet(ctx, subnetEntry.value, where);
  }
  const vniEntry = m.get("vni");
  if (vniEntry) {
    raw.vniNode = vniEntry.value;
    raw.vni = ctx.r.integer(vniEntry.value, `${where}.vni`, 1, MAX_VNI, "vni: 101");
  } else {
    raw.vni = null;
  }
  const membersEntry = m.get("members");
  raw.members = membersEntry ? parseMembers(ctx, membersEntry, where) : null;
  const labelsEntry = m.get("labels");
  raw.labels = {};
  if (labelsEntry) {
    raw.labelsNode = labelsEntry.value;
    raw.labels = parseLabels(ctx, labelsEntry.value, `${where}.labels`, { refuseReserved: true });
    const own = raw.labels?.[NETWORK_NAME_LABEL];
    if (raw.labels && own !== undefined && own !== raw.name) {
      ctx.report.error(
        labelsEntry.value,
        `${where}.labels sets ${NETWORK_NAME_LABEL} to "${own}", but the network is "${raw.name}"`,
        `remove it: every network carries ${NETWORK_NAME_LABEL}: <its name>`,
      );
      raw.labels = undefined;
    }
  }
  return raw;
}

/** A canonical subnet without host bits, large enough to hold members. */
export function parseSubnet(
  ctx: ParseContext,
  node: YNode | null,
  where: string,
): Cidr | undefined {
  const text = ctx.r.string(node, `${where}.subnet`, "subnet: 10.32.1.0/24");
  if (text === undefined) return undefined;
  const c = parseCidr(text);
  if (!c) {
    ctx.report.error(
      node,
      `"${text}" is not a subnet`,
      "write address/prefix-length, e.g. 10.32.1.0/24",
    );
    return undefined;
  }
  const canonical = formatCidr(c);
  if (networkAddress(c).value !== c.address.value) {
    ctx.report.error(
      node,
      `subnet ${text} has host bits set; did you mean ${canonical}?`,
      `write the network address: ${canonical}`,
    );
    return undefined;
  }
  const maxPrefix = addressBits(c.address.family) - 2;
  if (c.prefixLength > maxPrefix) {
    ctx.report.error(
      node,
      `subnet ${text} is too small to hold members`,
      `use a prefix of /${maxPrefix} or shorter, e.g. /24`,
    );
    return undefined;
  }
  return c;
}

/**
 * The cross-network checks (unique names and VNIs, no overlapping subnets, IPv6 MTU), then
 * members resolved against `peers` and VNIs assigned. Undefined when anything is invalid.
 */
export function checkNetworks(
  ctx: ParseContext,
  raws: RawNetwork[] | undefined,
  peers: Peer[] | undefined,
  mtu: MtuInputs,
): Network[] | undefined {
  if (!raws) return undefined;
  checkUniqueness(ctx, raws, mtu);
  // Members can only be resolved against a valid peers list.
  if (!peers) return undefined;
  const networks: Network[] = [];
  for (const n of raws) {
    if (
      n.name === undefined || !n.subnet || n.vni === undefined || n.members === undefined ||
      !n.labels
    ) {
      continue;
    }
    const members = resolveMembers(ctx, {
      name: n.name,
      subnet: n.subnet,
      members: n.members,
      subnetNode: n.subnetNode,
    }, peers);
    if (!members) continue;
    networks.push({
      name: n.name,
      subnet: formatCidr(n.subnet),
      family: n.subnet.address.family,
      prefixLength: n.subnet.prefixLength,
      vni: n.vni ?? 0,
      vniDerived: n.vni === null,
      members,
      labels: { ...n.labels, [NETWORK_NAME_LABEL]: n.name },
    });
  }
  if (networks.length !== raws.length) return undefined;
  const vnis = assignVnis(
    networks.map((n) => ({ name: n.name, vni: n.vniDerived ? null : n.vni })),
  );
  networks.forEach((n, i) => (n.vni = vnis[i]));
  return networks;
}

function checkUniqueness(ctx: ParseContext, raws: RawNetwork[], mtu: MtuInputs): void {
  const { report } = ctx;
  const byName = new Map<string, RawNetwork>();
  const byVni = new Map<number, RawNetwork>();
  const withSubnet: RawNetwork[] = [];
  for (const n of raws) {
    if (n.name !== undefined) {
      const first = byName.get(n.name);
      if (first) {
        report.error(
          n.nameNode,
          `duplicate network name "${n.name}" (first on line ${report.at(first.nameNode).line})`,
          "every network needs its own name",
        );
      } else {
        byName.set(n.name, n);
      }
    }
    if (typeof n.vni === "number") {
      const first = byVni.get(n.vni);
      if (first) {
        report.error(
          n.vniNode,
          `duplicate vni ${n.vni}: network "${first.name ?? "?"}" (line ` +
            `${report.at(first.vniNode).line}) has it too`,
          "give each network its own vni, or remove vni: to derive one",
        );
      } else {
        byVni.set(n.vni, n);
      }
    }
    if (n.subnet) {
      const other = withSubnet.find((o) => subnetsOverlap(o.subnet!, n.subnet!));
      if (other) {
        report.error(
          n.subnetNode,
          `subnet ${formatCidr(n.subnet)} overlaps ${formatCidr(other.subnet!)} of network ` +
            `"${other.name ?? "?"}" (line ${report.at(other.subnetNode).line})`,
          "give each network a subnet of its own, e.g. 10.32.1.0/24 and 10.32.2.0/24",
        );
      }
      withSubnet.push(n);
      if (n.subnet.address.family === 6) checkIpv6Mtu(ctx, n, n.subnet, mtu);
    }
  }
}

function checkIpv6Mtu(ctx: ParseContext, n: RawNetwork, subnet: Cidr, mtu: MtuInputs): void {
  const overlay = networkMtu({
    underlayMtu: mtu.underlayMtu,
    family: mtu.underlayFamily,
    encrypted: mtu.encrypted,
    datapath: mtu.datapath,
  });
  if (overlay >= MIN_IPV6_LINK_MTU) return;
  ctx.report.error(
    n.subnetNode,
    `IPv6 subnet ${formatCidr(subnet)} needs an MTU of at least ` +
      `${MIN_IPV6_LINK_MTU}, but underlay_mtu ${mtu.underlayMtu} leaves ${overlay}`,
    `raise underlay_mtu to ${mtu.underlayMtu + MIN_IPV6_LINK_MTU - overlay} or more`,
  );
}
