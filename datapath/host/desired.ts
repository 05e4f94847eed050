/**
 * Desired and observed host state, as plain data. The planner compares them; nothing here
 * touches the kernel.
 *
 * @module
 */

import type { ObservedNftTable } from "./nft_table.ts";

export type { ObservedNftTable };

/** Kernel state this box should have. */
export interface DesiredHost {
  /** This box's underlay address (must be on a local link). */
  underlay: { address: string; family: 4 | 6 };
  /** Fast-datapath VXLAN UDP port. */
  vxlanPort: number;
  networks: DesiredNetwork[];
  /** One per fast-datapath peer when a password is set. */
  esp: DesiredEspPair[];
  /**
   * A password is set: VXLAN is accepted only through ESP (`meta ipsec missing drop`), whatever
   * its source. Absent: true when `esp` is non-empty.
   */
  encrypted?: boolean;
  /** Workloads on this box: a veth from a network's bridge into each one's namespace. */
  workloads?: DesiredWorkload[];
  /** Declared routes between this box's networks (by network name), one way each. */
  routes?: DesiredRoute[];
  /** Network policy, resolved to addresses (see `DesiredPolicy`). Absent: no policy table. */
  policies?: DesiredPolicy[];
}

/**
 * A workload (container, VM, service) in its own network namespace, joined to one network.
 * Everything here is resolved: the agent's resolver derives the address and MTU from config.
 */
export interface DesiredWorkload {
  /** Workload name, `[a-z0-9][a-z0-9-]*` (validated again before it reaches a command line). */
  name: string;
  /** The network it joins (its bridge is `wvb-<network>`). */
  network: string;
  /**
   * Its namespace: a name under /run/netns (`cam1`) or an absolute path to a namespace file
   * (`/proc/1234/ns/net`, `/run/netns/cam1`).
   */
  netns: string;
  /** Its overlay address and the network's prefix length. */
  address: string;
  prefixLength: number;
  /** The network's overlay MTU. */
  mtu: number;
  /** Default route via this box's address on the network; null: no default route. */
  gateway: string | null;
}

/** Forwarding from one network's bridge to another's on this box; replies are allowed back. */
export interface DesiredRoute {
  from: string;
  to: string;
}

/**
 * A network policy with Kubernetes NetworkPolicy semantics, resolved to addresses. An endpoint
 * selected by no policy for a direction allows everything in that direction; once selected,
 * only what some rule of some policy selecting it allows passes; replies to allowed connections
 * pass (conntrack).
 */
export interface DesiredPolicy {
  /** Policy id, `[a-z][a-z0-9-]*` (nft names start with a letter) (names its counters). */
  id: string;
  /** Addresses of the endpoints it selects (workloads, a box's address on a network). */
  endpoints: string[];
  /** Rules for traffic to the endpoints; null when the policy does not cover ingress. */
  ingress: DesiredPolicyRule[] | null;
  /** Rules for traffic from the endpoints; null when the policy does not cover egress. */
  egress: DesiredPolicyRule[] | null;
}

/** One rule: traffic passes when it matches one of the peers and one of the ports. */
export interface DesiredPolicyRule {
  /** Rule id within the policy, `[a-z][a-z0-9-]*` (e.g. `ingress-0`), for its counter. */
  id: string;
  /** Sources (ingress) or destinations (egress); null: any address (`from`/`to` absent). */
  peers: DesiredPolicyPeer[] | null;
  /** null: every port and protocol (`ports` absent). */
  ports: DesiredPolicyPort[] | null;
}

/** A peer: the addresses a selector matched (possibly none), or an ipBlock. */
export type DesiredPolicyPeer =
  | { addresses: string[] }
  | { cidr: string; except: string[] };

/** A port: protocol, and optionally a port or a range `port`..`endPort`. */
export interface DesiredPolicyPort {
  protocol: "TCP" | "UDP" | "SCTP";
  port?: number;
  endPort?: number;
}

/** One network's bridge, TAP, VXLAN and forwarding entries. */
export interface DesiredNetwork {
  name: string;
  vni: number;
  mtu: number;
  /** This box's overlay address on the bridge. */
  address: string;
  prefixLength: number;
  /** Wants the persistent TAP wvt-<name> the sleeve attaches to. */
  sleeve: boolean;
  /**
   * Wants the VXLAN device wvx-<name>; it exists only while the network has a fast-datapath
   * pair (some `fdb` entry), so no VXLAN socket listens for a network nobody reaches that way.
   */
  fastdp: boolean;
  /** Fast-datapath member peers: a flood entry each, plus their known MACs. */
  fdb: { peer: string; underlay: string; macs: string[] }[];
}

/** ESP for one fast-datapath peer: an SA and a policy per direction. */
export interface DesiredEspPair {
  peer: string;
  local: string;
  remote: string;
  out: { spi: number; key: Uint8Array };
  in: { spi: number; key: Uint8Array };
  /**
   * More inbound SAs accepted beside `in` during a rekey (make-before-break): the next epoch's
   * before this box sends under it, the previous one's until the peer's datagrams under it can
   * no longer be in flight. Outbound there is only ever `out`: a switch adds the new outbound
   * SA and removes the old one, and the peer accepts both by then.
   */
  extraIn?: { spi: number; key: Uint8Array }[];
  /**
   * Hard lifetime of both SAs in seconds (default `ESP_SA_HARD_LIFETIME_S`): how long its keys
   * outlive an agent that stopped renewing them.
   */
  hardLifetimeSeconds?: number;
}

/** A link as observed. */
export interface ObservedLink {
  name: string;
  kind: string;
  mtu: number;
  up: boolean;
  master: string | null;
  address: string | null;
  isolated: boolean | null;
  vxlan: { id: number; port: number; local: string | null; learning: boolean } | null;
  addresses: string[];
}

/** An xfrm SA in our reqid range. */
export interface ObservedSa {
  src: string;
  dst: string;
  spi: number;
  reqid: number;
  /** Hex of the AEAD key as the kernel shows it (with `ip xfrm state` keys are shown). */
  keyHex: string | null;
  /** When it was added (seconds since the epoch), from `ip -s xfrm state`; null if unknown. */
  addedAt?: number | null;
  /** Its configured hard lifetime in seconds (0: none); null if unknown. */
  hardSeconds?: number | null;
}

/** An xfrm policy in our reqid range. */
export interface ObservedPolicy {
  src: string;
  dst: string;
  dir: "in" | "out" | "fwd";
  dport: number | null;
  reqid: number;
}

/** What the kernel has now (only what concerns us). */
export interface ObservedHost {
  links: ObservedLink[];
  /** Entries on our VXLAN devices: device -> "mac dst" strings. */
  fdb: Record<string, string[]>;
  sas: ObservedSa[];
  policies: ObservedPolicy[];
  /** Our nft tables that exist, by name: the digest they carry and their rule count. */
  nft: Record<string, ObservedNftTable>;
  /** Kernel switches we manage (see plan_sysctl.ts), key -> value; absent keys do not exist. */
  sysctls?: Record<string, string>;
  /** When this was observed (seconds since the epoch): the planner's "now" for lifetimes. */
  observedAt?: number;
  /** Inside each desired workload's namespace, by workload name (absent: not observed). */
  workloads?: Record<string, ObservedWorkload>;
}

/** A workload's namespace as observed: its end of the veth and its default route. */
export interface ObservedWorkload {
  /** False when the namespace does not exist (or cannot be entered). */
  netnsFound: boolean;
  /** Why the namespace could not be entered, when it could not. */
  error?: string;
  /** The inner end `wv-<network>`, or null when absent. */
  inner: { up: boolean; mtu: number; addresses: string[] } | null;
  /** Gateway and device of the namespace's default route, or null when it has none. */
  defaultRoute: { via: string; dev: string } | null;
}

/** A host with nothing of ours on it. */
export const EMPTY_OBSERVED: ObservedHost = Object.freeze({
  links: [],
  fdb: {},
  sas: [],
  policies: [],
  nft: {},
}) as ObservedHost;
