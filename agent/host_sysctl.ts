/**
 * The two kernel switches network policy and routes need beyond what the host plan creates:
 *
 * - br_netfilter's `bridge-nf-call-iptables` (and `-ip6tables`): without it, traffic bridged
 *   between two ports of one network's bridge (two workloads on one box, a workload and the
 *   VXLAN device or the sleeve TAP) never meets the policy table's `forward` hook, and a policy
 *   that should deny it would silently not. Wanted whenever there is a policy.
 * - IPv4 forwarding on the bridges of declared routes only (`net.ipv4.conf.wvb-X.forwarding`),
 *   the `from` bridge for the traffic and the `to` bridge for its replies; the box-wide
 *   `ip_forward` is left alone, so a box with routes does not become a router for its other
 *   interfaces. (IPv6 has no per-interface forwarding switch that forwards; IPv6 routes need
 *   the operator's `net.ipv6.conf.all.forwarding`.)
 *
 * Which switches are wanted is pure (`wantedSysctls`); setting them is a thin layer over
 * /proc/sys of the agent's network namespace.
 *
 * @module
 */

import type { DesiredHost } from "../datapath/host/mod.ts";
import { bridgeName } from "../datapath/link_names.ts";
import { runCommand } from "../datapath/command.ts";

/** One /proc/sys switch. */
export interface WantedSysctl {
  /** Below /proc/sys, e.g. `net/bridge/bridge-nf-call-iptables`. */
  path: string;
  value: "1";
  /** Needs the bridges: set after the plan is applied. */
  afterPlan: boolean;
  why: string;
}

const BRIDGE_NF = ["net/bridge/bridge-nf-call-iptables", "net/bridge/bridge-nf-call-ip6tables"];

/** The switches `desired` needs. */
export function wantedSysctls(desired: DesiredHost): WantedSysctl[] {
  const out: WantedSysctl[] = [];
  if ((desired.policies ?? []).length) {
    for (const path of BRIDGE_NF) {
      out.push({ path, value: "1", afterPlan: false, why: "policy on bridged traffic" });
    }
  }
  const v4 = new Set(desired.networks.filter((n) => !n.address.includes(":")).map((n) => n.name));
  const bridges = new Set<string>();
  for (const r of desired.routes ?? []) {
    for (const n of [r.from, r.to]) if (v4.has(n)) bridges.add(bridgeName(n));
  }
  for (const b of [...bridges].sort()) {
    out.push({
      path: `net/ipv4/conf/${b}/forwarding`,
      value: "1",
      afterPlan: true,
      why: "a declared route",
    });
  }
  return out;
}

async function read(path: string): Promise<string | null> {
  try {
    return (await Deno.readTextFile(`/proc/sys/${path}`)).trim();
  } catch {
    return null;
  }
}

/**
 * Sets the switches of one phase that are not set yet; loads br_netfilter when its switches are
 * missing. Returns a problem per switch that could not be set (the box's reconcile reports them).
 */
export async function applySysctls(
  wanted: WantedSysctl[],
  afterPlan: boolean,
): Promise<string[]> {
  const problems: string[] = [];
  const mine = wanted.filter((w) => w.afterPlan === afterPlan);
  if (mine.some((w) => w.path.startsWith("net/bridge/")) && (await read(BRIDGE_NF[0])) === null) {
    const r = await runCommand("modprobe", ["br_netfilter"]);
    if (!r.ok) problems.push(`modprobe br_netfilter: ${r.stderr.trim() || `exit ${r.code}`}`);
  }
  for (const w of mine) {
    if ((await read(w.path)) === w.value) continue;
    try {
      await Deno.writeTextFile(`/proc/sys/${w.path}`, w.value);
    } catch (e) {
      problems.push(`cannot set ${w.path.replaceAll("/", ".")}=${w.value} (${w.why}): ${e}`);
    }
  }
  return problems;
}
