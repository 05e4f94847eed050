/**
 * Names of the kernel links the agent owns. Every name starts with `wv` so that reconcile and
 * `down` can tell ours from the operator's; the network name follows, so `ip link` stays
 * readable. Linux allows 15 characters: the 4-character prefix leaves 11 for the network name,
 * which config validation enforces.
 *
 * @module
 */

/** Prefix shared by every link the agent creates. */
export const LINK_PREFIX = "wv";

/** Longest network name that still fits in an interface name with our prefixes. */
export const MAX_NETWORK_NAME_LENGTH = 11;

/** The network's Linux bridge: its layer-2 broadcast domain, holding the host's overlay address. */
export function bridgeName(network: string): string {
  return `wvb-${network}`;
}

/** The network's persistent TAP device, enslaved to the bridge; the sleeve reads and writes it. */
export function tapName(network: string): string {
  return `wvt-${network}`;
}

/** The network's VXLAN device (fast datapath), enslaved to the bridge. */
export function vxlanName(network: string): string {
  return `wvx-${network}`;
}

/**
 * The host end of a workload's veth, a port of the network's bridge: `wvw-` and 8 hex digits of
 * a hash of network and workload (names are longer than an interface name allows).
 */
export function workloadVethName(network: string, workload: string): string {
  let h = 0x811c9dc5;
  for (const c of new TextEncoder().encode(`${network}/${workload}`)) {
    h = Math.imul(h ^ c, 0x01000193) >>> 0;
  }
  return `wvw-${h.toString(16).padStart(8, "0")}`;
}

/** The workload's end of the veth, inside its namespace: `wv-<network>` (one per network). */
export function workloadInnerName(network: string): string {
  return `wv-${network}`;
}

/** True for link names the agent owns (in the box's own namespace). */
export function isOwnedLink(name: string): boolean {
  return /^wv[btx]-[a-z][a-z0-9-]{0,10}$/.test(name) || /^wvw-[0-9a-f]{8}$/.test(name);
}
