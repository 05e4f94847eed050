/**
 * Which workloads live on this box and which routes it forwards, resolved from the config into
 * the host's input types. Pure: addresses come from config (written or derived there), the MTU
 * is the overlay MTU of the box, the gateway is this box's own address on the workload's
 * network.
 *
 * @module
 */

import type { Config, Workload } from "../config/types.ts";
import type { DesiredRoute, DesiredWorkload } from "../datapath/host/desired.ts";

/** The namespace as the host planner takes it: a name under /run/netns or an absolute path. */
export function netnsText(w: Workload): string {
  return w.netns.kind === "name" ? w.netns.name : w.netns.path;
}

/** The workloads of `self`, each with its address, prefix, MTU and default route via the box. */
export function workloadsOnBox(config: Config, self: string, mtu: number): DesiredWorkload[] {
  const out: DesiredWorkload[] = [];
  for (const w of config.workloads) {
    if (w.peer !== self) continue;
    const net = config.networks.find((n) => n.name === w.network);
    const gateway = net?.members.find((m) => m.peer === self)?.address ?? null;
    // Config guarantees the network exists and the box is a member; a config that does not
    // (a hand-built one) gets the workload anyway, and the planner reports it per workload.
    out.push({
      name: w.name,
      network: w.network,
      netns: netnsText(w),
      address: w.address,
      prefixLength: net?.prefixLength ?? (w.address.includes(":") ? 128 : 32),
      mtu,
      gateway,
    });
  }
  return out;
}

/** Declared routes whose two networks both have a bridge on `self` (the only ones it forwards). */
export function routesOnBox(config: Config, self: string): DesiredRoute[] {
  const mine = new Set(
    config.networks.filter((n) => n.members.some((m) => m.peer === self)).map((n) => n.name),
  );
  const seen = new Set<string>();
  const out: DesiredRoute[] = [];
  for (const r of config.routes) {
    const key = `${r.from} ${r.to}`;
    if (r.from === r.to || !mine.has(r.from) || !mine.has(r.to) || seen.has(key)) continue;
    seen.add(key);
    out.push({ from: r.from, to: r.to });
  }
  return out;
}
