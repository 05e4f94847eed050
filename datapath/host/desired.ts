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
  /** Wants the VXLAN device wvx-<name>. */
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
}

/** A host with nothing of ours on it. */
export const EMPTY_OBSERVED: ObservedHost = Object.freeze({
  links: [],
  fdb: {},
  sas: [],
  policies: [],
  nft: {},
}) as ObservedHost;
