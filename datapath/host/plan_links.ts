/**
 * Links: each network's bridge (with this box's overlay address), its sleeve TAP and its VXLAN
 * device, both enslaved to the bridge as isolated ports; links of ours nobody wants any more.
 *
 * @module
 */

import { bridgeName, isOwnedLink, tapName, vxlanName } from "../link_names.ts";
import type { DesiredHost, DesiredNetwork, ObservedHost, ObservedLink } from "./desired.ts";
import { bridgeChange, type Change, ipChange } from "./change.ts";
import { workloadLinks } from "./plan_workloads.ts";

/** Link changes by phase: `early` before ESP, `late` after it (VXLAN up), `cleanup` last. */
export interface LinkPlan {
  early: Change[];
  late: Change[];
  cleanup: Change[];
}

/** All link changes for the desired networks, and removal of our links nobody wants. */
export function planLinks(desired: DesiredHost, observed: ObservedHost): LinkPlan {
  const links = new Map(observed.links.map((l) => [l.name, l]));
  const out: LinkPlan = { early: [], late: [], cleanup: [] };
  const wanted = new Set<string>();
  for (const n of desired.networks) {
    wanted.add(bridgeName(n.name));
    out.early.push(...planBridge(n, links.get(bridgeName(n.name))));
    if (n.sleeve) {
      wanted.add(tapName(n.name));
      out.early.push(...planTap(n, links.get(tapName(n.name))));
    }
    if (n.fastdp && n.fdb.length > 0) {
      wanted.add(vxlanName(n.name));
      const v = planVxlan(desired, n, links.get(vxlanName(n.name)));
      out.early.push(...v.early);
      out.late.push(...v.late);
    }
  }
  for (const w of workloadLinks(desired)) wanted.add(w);
  out.cleanup.push(...removeUnwanted(observed.links, wanted));
  return out;
}

/** The bridge: created, MTU, up, and exactly one overlay address (link-local ones stay). */
function planBridge(n: DesiredNetwork, have: ObservedLink | undefined): Change[] {
  const b = bridgeName(n.name);
  const out: Change[] = [];
  if (!have || have.kind !== "bridge") {
    if (have) out.push(ipChange("link", `replace ${b} (not a bridge)`, ["link", "del", "dev", b]));
    const mtu = String(n.mtu);
    out.push(
      ipChange("link", `create bridge of network ${n.name}`, [
        ...["link", "add", "name", b, "mtu", mtu, "type", "bridge", "stp_state", "0"],
      ]),
      ipChange("link", `mark ${b} as ours`, ["link", "set", "dev", b, "alias", "weave-agent"]),
      ipChange("link", `bring ${b} up`, ["link", "set", "dev", b, "up"]),
    );
  } else {
    if (have.mtu !== n.mtu) {
      out.push(
        ipChange("link", `set ${b} MTU ${n.mtu}`, ["link", "set", "dev", b, "mtu", String(n.mtu)]),
      );
    }
    if (!have.up) out.push(ipChange("link", `bring ${b} up`, ["link", "set", "dev", b, "up"]));
  }
  const cidr = `${n.address}/${n.prefixLength}`;
  const addrs = have && have.kind === "bridge" ? have.addresses : [];
  if (!addrs.includes(cidr)) {
    out.push(ipChange("address", `address ${cidr} on ${b}`, ["address", "add", cidr, "dev", b]));
  }
  for (const a of addrs) {
    if (a !== cidr && !a.startsWith("fe80:")) {
      out.push(
        ipChange("address", `remove stale ${a} from ${b}`, ["address", "del", a, "dev", b]),
      );
    }
  }
  return out;
}

/**
 * A port of the bridge (TAP or VXLAN): enslaved, MTU, isolated from the bridge's other overlay
 * port (a frame from one peer is never relayed to another), up. `l` is the link as it is, or
 * undefined when it is (re)created by this plan.
 */
function planPort(n: DesiredNetwork, name: string, l: ObservedLink | undefined): Change[] {
  const b = bridgeName(n.name);
  const out: Change[] = [];
  if (!l || l.master !== b) {
    out.push(
      ipChange("link", `enslave ${name} to ${b}`, ["link", "set", "dev", name, "master", b]),
    );
  }
  if (!l || l.mtu !== n.mtu) {
    out.push(
      ipChange("link", `set ${name} MTU ${n.mtu}`, [
        ...["link", "set", "dev", name, "mtu", String(n.mtu)],
      ]),
    );
  }
  if (!l || l.isolated !== true) {
    out.push(
      bridgeChange("link", `isolate ${name} from the bridge's other overlay port`, [
        ...["link", "set", "dev", name, "isolated", "on"],
      ]),
    );
  }
  if (!l || !l.up) {
    out.push(ipChange("link", `bring ${name} up`, ["link", "set", "dev", name, "up"]));
  }
  return out;
}

/** The persistent TAP the sleeve attaches to. */
function planTap(n: DesiredNetwork, l: ObservedLink | undefined): Change[] {
  const t = tapName(n.name);
  const ok = l && l.kind === "tun";
  const out: Change[] = [];
  if (l && !ok) out.push(ipChange("link", `replace ${t}`, ["link", "del", "dev", t]));
  if (!ok) {
    out.push(
      ipChange("link", `create TAP for the sleeve of ${n.name}`, [
        ...["tuntap", "add", "dev", t, "mode", "tap", "multi_queue", "vnet_hdr"],
      ]),
    );
  }
  out.push(...planPort(n, t, ok ? l : undefined));
  return out;
}

/** The VXLAN device; it comes up last (after ESP), so its first packets never leave in clear. */
function planVxlan(
  desired: DesiredHost,
  n: DesiredNetwork,
  l: ObservedLink | undefined,
): { early: Change[]; late: Change[] } {
  const x = vxlanName(n.name);
  const ok = l !== undefined && vxlanMatches(desired, n, l);
  const early: Change[] = [];
  if (l && !ok) {
    early.push(ipChange("link", `replace ${x} (attributes differ)`, ["link", "del", "dev", x]));
  }
  if (!ok) {
    early.push(
      ipChange("link", `create VXLAN ${n.vni} of ${n.name}`, [
        ...["link", "add", "name", x, "mtu", String(n.mtu), "type", "vxlan"],
        ...["id", String(n.vni), "dstport", String(desired.vxlanPort)],
        ...["local", desired.underlay.address, "nolearning"],
      ]),
      ipChange("link", `mark ${x} as ours`, ["link", "set", "dev", x, "alias", "weave-agent"]),
    );
  }
  const late: Change[] = [];
  for (const c of planPort(n, x, ok ? l : undefined)) {
    (c.args.at(-1) === "up" ? late : early).push(c);
  }
  return { early, late };
}

/** True when an existing VXLAN device has exactly the attributes we would create it with. */
export function vxlanMatches(desired: DesiredHost, n: DesiredNetwork, l: ObservedLink): boolean {
  return l.kind === "vxlan" && l.vxlan !== null && l.vxlan.id === n.vni &&
    l.vxlan.port === desired.vxlanPort && l.vxlan.local === desired.underlay.address &&
    !l.vxlan.learning;
}

function removeUnwanted(links: ObservedLink[], wanted: Set<string>): Change[] {
  return links
    .filter((l) => isOwnedLink(l.name) && !wanted.has(l.name))
    .map((l) =>
      ipChange("link", `remove ${l.name} (no longer wanted)`, ["link", "del", "dev", l.name])
    );
}
