/**
 * Check item of the `host` group: the kernel's neighbour (ARP/NDP) table has room for this
 * box's peers. The table is shared by every network namespace of the box and has a default
 * hard limit (`gc_thresh3`) of 1024 entries; past the soft limit (`gc_thresh2`) the kernel
 * collects entries aggressively, and past the hard one it logs "neighbor table overflow" and new
 * connections time out, for reasons that look like anything but a full table. This box needs
 * about one entry per underlay peer and one per overlay member of each network it is in.
 *
 * Pure: the caller reads the three thresholds from
 * `/proc/sys/net/ipv{4,6}/neigh/default/gc_thresh{1,2,3}` and counts the members.
 *
 * @module
 */

import type { Config, Peer } from "../../config/types.ts";
import { type CheckItem, item } from "./item.ts";

/** The kernel's neighbour table limits of one address family. */
export interface NeighbourLimits {
  gcThresh1: number;
  gcThresh2: number;
  gcThresh3: number;
}

/** Headroom over the estimate, for the box's other neighbours (gateway, other namespaces). */
const HEADROOM = 256;

/** Entries this box needs: one per underlay peer, one per other member of each network. */
export function neighbourEntriesNeeded(underlayPeers: number, membersPerNetwork: number[]): number {
  return underlayPeers + membersPerNetwork.reduce((a, m) => a + Math.max(m - 1, 0), 0);
}

/**
 * Entries `self` needs per address family: underlay peers by the family of their address (a
 * DNS name or no address may turn out either, so it counts in both), overlay members of the
 * networks `self` is in by the network's family.
 */
export function neighbourNeeds(cfg: Config, self: Peer): { ipv4: number; ipv6: number } {
  const underlay = { ipv4: 0, ipv6: 0 };
  for (const p of cfg.peers) {
    if (p === self) continue;
    const e = p.endpoint;
    if (e?.kind === "ip") underlay[e.ip.includes(":") ? "ipv6" : "ipv4"]++;
    else (underlay.ipv4++, underlay.ipv6++);
  }
  const mine = cfg.networks.filter((n) => n.members.some((m) => m.peer === self.name));
  const members = (f: 4 | 6) => mine.filter((n) => n.family === f).map((n) => n.members.length);
  return {
    ipv4: neighbourEntriesNeeded(underlay.ipv4, members(4)),
    ipv6: neighbourEntriesNeeded(underlay.ipv6, members(6)),
  };
}

/**
 * `host.neighbours.<family>`: ok when the estimate plus headroom fits below the soft limit;
 * a warning with the exact sysctl to set otherwise.
 */
export function neighbourTableItem(
  family: "ipv4" | "ipv6",
  needed: number,
  limits: NeighbourLimits,
): CheckItem {
  const id = `host.neighbours.${family}`;
  const want = needed + HEADROOM;
  const found = `${needed} neighbour entries needed (peers and network members); ` +
    `gc_thresh2 ${limits.gcThresh2}, gc_thresh3 ${limits.gcThresh3}`;
  if (want <= limits.gcThresh2) return item(id, "host", "ok", found);
  const t1 = Math.max(limits.gcThresh1, want);
  const t2 = Math.max(limits.gcThresh2, 2 * want);
  const t3 = Math.max(limits.gcThresh3, 4 * want);
  const key = `net.${family}.neigh.default`;
  return item(
    id,
    "host",
    "warning",
    `${found}: the table overflows and connections to peers time out`,
    `sysctl -w ${key}.gc_thresh1=${t1} ${key}.gc_thresh2=${t2} ${key}.gc_thresh3=${t3} ` +
      `(and the same lines in /etc/sysctl.d/60-weave.conf to keep them after a reboot)`,
  );
}
