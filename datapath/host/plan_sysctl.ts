/**
 * Kernel switches the other objects depend on, set per object where the kernel allows it:
 *
 * - IPv4 forwarding per bridge (`net.ipv4.conf.wvb-X.forwarding`): on exactly for the bridges of
 *   networks in a declared route (either end: the reply comes back through the other), off for
 *   every other bridge of ours. Forwarding is decided by the input device, so this routes
 *   between declared networks without making the box a router for anything else.
 * - With network policy, `net.bridge.bridge-nf-call-iptables` / `-ip6tables` = 1, so frames
 *   bridged between a network's ports (a local workload, the VXLAN device, the sleeve TAP) meet
 *   the policy table. Without br_netfilter the change fails and says so, rather than letting
 *   policy silently miss bridged traffic.
 *
 * @module
 */

import { bridgeName } from "../link_names.ts";
import type { DesiredHost, ObservedHost } from "./desired.ts";
import type { Change } from "./change.ts";

/** The bridge-netfilter switches policy needs. */
export const BRIDGE_NF_KEYS = [
  "net.bridge.bridge-nf-call-iptables",
  "net.bridge.bridge-nf-call-ip6tables",
] as const;

/** The forwarding switch of one of our bridges. */
export function forwardingKey(network: string): string {
  return `net.ipv4.conf.${bridgeName(network)}.forwarding`;
}

/** key -> value this box should have. */
export function desiredSysctls(desired: DesiredHost): Map<string, string> {
  const names = new Set(desired.networks.map((n) => n.name));
  const routed = new Set(
    (desired.routes ?? []).filter((r) => names.has(r.from) && names.has(r.to) && r.from !== r.to)
      .flatMap((r) => [r.from, r.to]),
  );
  const out = new Map<string, string>();
  for (const n of [...desired.networks].sort((a, b) => a.name.localeCompare(b.name))) {
    if (n.address.includes(":")) continue; // IPv6 forwarding is not per interface
    out.set(forwardingKey(n.name), routed.has(n.name) ? "1" : "0");
  }
  if ((desired.policies ?? []).length > 0) { for (const k of BRIDGE_NF_KEYS) out.set(k, "1"); }
  return out;
}

/** One change setting every switch that differs. */
export function planSysctls(desired: DesiredHost, observed: ObservedHost): Change[] {
  const set = [...desiredSysctls(desired)].filter(([k, v]) => observed.sysctls?.[k] !== v);
  if (set.length === 0) return [];
  return [{
    kind: "sysctl",
    description: `kernel switches: ${set.map(([k, v]) => `${k}=${v}`).join(", ")}`,
    tool: "sysctl",
    args: set.map(([k, v]) => `${k}=${v}`),
  }];
}
