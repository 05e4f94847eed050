/**
 * Forwarding entries of each VXLAN device: a flood entry per fast-datapath member peer (so
 * broadcast and unknown unicast reach it) and one entry per MAC it announced. Added after ESP
 * is in place; stale entries go in the cleanup phase.
 *
 * @module
 */

import { vxlanName } from "../link_names.ts";
import type { DesiredHost, ObservedHost } from "./desired.ts";
import { bridgeChange, type Change } from "./change.ts";
import { vxlanMatches } from "./plan_links.ts";

const FLOOD_MAC = "00:00:00:00:00:00";

/** FDB changes for every fast-datapath network: `add` runs late, `remove` in cleanup. */
export function planFdb(
  desired: DesiredHost,
  observed: ObservedHost,
): { add: Change[]; remove: Change[] } {
  const add: Change[] = [];
  const remove: Change[] = [];
  for (const n of desired.networks) {
    if (!n.fastdp || n.fdb.length === 0) continue;
    const x = vxlanName(n.name);
    const link = observed.links.find((l) => l.name === x);
    // A device this plan (re)creates starts with no entries.
    const kept = link !== undefined && vxlanMatches(desired, n, link);
    const want = new Map<string, string>(); // "mac dst" -> mac
    for (const f of n.fdb) {
      want.set(`${FLOOD_MAC} ${f.underlay}`, FLOOD_MAC);
      for (const m of f.macs) want.set(`${m} ${f.underlay}`, m);
    }
    const have = new Set(kept ? observed.fdb[x] ?? [] : []);
    for (const [k, mac] of [...want].sort()) {
      if (have.has(k)) continue;
      const dst = k.split(" ")[1];
      add.push(
        bridgeChange(
          "fdb",
          `forward ${mac === FLOOD_MAC ? "floods" : mac} of ${n.name} to ${dst}`,
          [
            ...["fdb", "append", mac, "dev", x, "dst", dst, "self", "permanent"],
          ],
        ),
      );
    }
    for (const k of [...have].sort()) {
      if (want.has(k)) continue;
      const [mac, dst] = k.split(" ");
      remove.push(
        bridgeChange("fdb", `remove stale entry ${mac} -> ${dst} of ${n.name}`, [
          ...["fdb", "del", mac, "dev", x, "dst", dst, "self"],
        ]),
      );
    }
  }
  return { add, remove };
}
