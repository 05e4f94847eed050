/**
 * Check items of the `host` and `ports` groups: no route, address or foreign VXLAN device on
 * this box clashes with a network, and the control, sleeve and VXLAN ports can be bound.
 *
 * @module
 */

import { formatHostPort, subnetsOverlap } from "../../config/mod.ts";
import type { Config, Network, Peer } from "../../config/types.ts";
import { isOwnedLink } from "../../datapath/link_names.ts";
import { type CheckItem, item } from "./item.ts";
import type { IpAddrLink } from "./items_underlay.ts";

/** One route of `ip -json route`. */
export interface IpRoute {
  dst: string;
  dev?: string;
  gateway?: string;
  protocol?: string;
}

/** One link of `ip -json -d link`. */
export interface IpDetailedLink {
  ifname: string;
  linkinfo?: { info_kind?: string; info_data?: { id?: number; port?: number } };
}

function asCidr(dst: string): string | null {
  if (dst === "default" || dst === "") return null;
  if (dst.includes("/")) return dst;
  return dst.includes(":") ? `${dst}/128` : `${dst}/32`;
}

/** The networks `self` is a member of. */
export function myNetworks(config: Config, self: Peer): Network[] {
  return config.networks.filter((n) => n.members.some((m) => m.peer === self.name));
}

/**
 * One item per network of this peer: no route or address outside our own `wv*` links overlaps
 * its subnet (the box would send overlay traffic elsewhere, or answer for it twice).
 */
export function subnetItems(
  config: Config,
  self: Peer,
  routes: IpRoute[],
  links: IpAddrLink[],
): CheckItem[] {
  return myNetworks(config, self).map((n) => {
    const clashes: string[] = [];
    for (const r of routes) {
      const c = asCidr(r.dst);
      if (!c || (r.dev && isOwnedLink(r.dev))) continue;
      try {
        if (subnetsOverlap(c, n.subnet)) {
          clashes.push(`route ${r.dst}${r.dev ? ` dev ${r.dev}` : ""}`);
        }
      } catch { /* unparsable route (e.g. multicast table entries): not ours to judge */ }
    }
    for (const l of links) {
      if (isOwnedLink(l.ifname)) continue;
      for (const a of l.addr_info ?? []) {
        if (!a.local || a.prefixlen === undefined) continue;
        try {
          if (subnetsOverlap(`${a.local}/${a.prefixlen}`, n.subnet)) {
            clashes.push(`address ${a.local}/${a.prefixlen} on ${l.ifname}`);
          }
        } catch { /* ignore */ }
      }
    }
    const id = `subnet.${n.name}`;
    if (clashes.length === 0) {
      return item(id, "host", "ok", `${n.subnet} (${n.name}) overlaps nothing on this box`);
    }
    return item(
      id,
      "host",
      "failure",
      `${n.subnet} (${n.name}) overlaps ${[...new Set(clashes)].join(", ")}`,
      `choose another subnet for network ${n.name} in the config, or remove the conflicting ` +
        `route/address if it is stale (ip route del …)`,
    );
  });
}

/** One item per network: no VXLAN device we do not own already uses its VNI. */
export function vniItems(config: Config, self: Peer, links: IpDetailedLink[]): CheckItem[] {
  return myNetworks(config, self).map((n) => {
    const id = `vni.${n.name}`;
    if (config.datapath === "sleeve") {
      return item(id, "host", "ok", `VNI ${n.vni}: no VXLAN device needed (datapath: sleeve)`);
    }
    const foreign = links.filter((l) =>
      l.linkinfo?.info_kind === "vxlan" && l.linkinfo.info_data?.id === n.vni &&
      !isOwnedLink(l.ifname)
    );
    if (foreign.length === 0) return item(id, "host", "ok", `VNI ${n.vni} (${n.name}) is free`);
    return item(
      id,
      "host",
      "failure",
      `VNI ${n.vni} (${n.name}) is used by ${
        foreign.map((l) => l.ifname).join(", ")
      }, not ours: the kernel refuses a second VXLAN device with the same VNI and port`,
      `set another vni for network ${n.name} in the config, or delete the device ` +
        `(ip link del ${foreign[0].ifname}) if it is stale`,
    );
  });
}

/** What binding a port told us. */
export type PortProbe =
  | { kind: "free" }
  | { kind: "agent"; socket: string }
  | { kind: "own-vxlan"; devices: string[] }
  | { kind: "in-use" }
  | { kind: "error"; message: string };

/** The port items: `port.control` (TCP), `port.sleeve` (UDP), `port.vxlan` (UDP). */
export function portItem(
  which: "control" | "sleeve" | "vxlan",
  address: string,
  port: number,
  probe: PortProbe,
): CheckItem {
  const id = `port.${which}`;
  const proto = which === "control" ? "TCP" : "UDP";
  const role = which === "control" ? "control" : which === "sleeve" ? "sleeve" : "VXLAN";
  const what = `${role} ${proto} ${formatHostPort(address, port)}`;
  const key = which === "vxlan" ? "vxlan_port" : "port";
  switch (probe.kind) {
    case "free":
      return item(id, "ports", "ok", `${what} is free`);
    case "agent":
      return item(id, "ports", "ok", `${what} is held by the running agent (${probe.socket})`);
    case "own-vxlan":
      return item(
        id,
        "ports",
        "ok",
        `${what} is held by weave-agent's own VXLAN devices (${probe.devices.join(", ")})`,
      );
    case "in-use":
      return item(
        id,
        "ports",
        "failure",
        `${what} is in use by another process`,
        `find it with: ss -${proto === "TCP" ? "lt" : "lu"}npH 'sport = :${port}' and stop it, ` +
          `or set ${key}: to a free port in the config (on every box)`,
      );
    case "error":
      return item(id, "ports", "failure", `${what} cannot be bound: ${probe.message}`);
  }
}
