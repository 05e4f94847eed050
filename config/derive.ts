/**
 * Values the config may leave out and every peer must still agree on: member addresses and
 * VNIs. Both depend only on the config's content, never on file order of networks or on the
 * box computing them, so all peers derive the same figures.
 *
 * @module
 */

import { sha256 } from "@noble/hashes/sha2.js";
import { addOffset, broadcastAddress, type Cidr, type IpAddress, sameAddress } from "./ip.ts";

/** Smallest derived VNI; 1..4095 are left to operators who number networks by hand. */
export const MIN_DERIVED_VNI = 4096;
/** Largest VNI: 24 bits. */
export const MAX_VNI = 16_777_215;

const DERIVED_VNI_SPAN = MAX_VNI - MIN_DERIVED_VNI + 1;

/**
 * The VNI a network named `name` gets when nothing collides: the first four bytes of
 * SHA-256(name), big-endian, reduced into [4096, 16777215].
 */
export function hashVni(name: string): number {
  const digest = sha256(new TextEncoder().encode(name));
  const n = new DataView(digest.buffer, digest.byteOffset, 4).getUint32(0);
  return MIN_DERIVED_VNI + (n % DERIVED_VNI_SPAN);
}

/** A network as VNI assignment sees it: `vni` null when the file gives none. */
export interface VniRequest {
  name: string;
  vni: number | null;
}

/**
 * VNIs for every network, in input order. Explicit VNIs are kept. Derived ones are handed out
 * in name order, each taking its hash or, if taken, the next free value (wrapping back to
 * 4096), so the result does not depend on the order of networks in the file. Adding a network
 * can only move another derived VNI in the unlikely case that the two hash into the same
 * place; giving `vni:` explicitly pins it.
 */
export function assignVnis(networks: readonly VniRequest[]): number[] {
  const taken = new Set<number>();
  for (const n of networks) if (n.vni !== null) taken.add(n.vni);
  const result = networks.map((n) => n.vni ?? 0);
  const derived = networks
    .map((n, i) => ({ name: n.name, i, explicit: n.vni !== null }))
    .filter((n) => !n.explicit)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.i - b.i));
  for (const { name, i } of derived) {
    let vni = hashVni(name);
    while (taken.has(vni)) vni = vni === MAX_VNI ? MIN_DERIVED_VNI : vni + 1;
    taken.add(vni);
    result[i] = vni;
  }
  return result;
}

/** Why a derived member address cannot be used. */
export type DerivedAddressProblem = "outside" | "broadcast";

/**
 * The overlay address of the peer at position `peerIndex` in `peers`: the subnet's network
 * address plus `peerIndex + 1`. Appending peers never moves an existing peer's address.
 */
export function deriveMemberAddress(
  subnet: Cidr,
  peerIndex: number,
): { address: IpAddress } | { problem: DerivedAddressProblem; address: IpAddress | null } {
  const address = addOffset(subnet, peerIndex + 1);
  if (!address) return { problem: "outside", address: null };
  if (subnet.address.family === 4 && sameAddress(address, broadcastAddress(subnet))) {
    return { problem: "broadcast", address };
  }
  return { address };
}
