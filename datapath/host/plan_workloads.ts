/**
 * Workloads: a veth from the network's bridge into each workload's namespace, with its address,
 * the overlay MTU and a default route via this box's address on the network. Each workload is
 * planned on its own: a bad entry or a missing namespace is that workload's error (in the
 * results) and costs the others nothing. Its changes carry its name, so the applier runs them
 * in batches of their own and a failure stops only that workload.
 *
 * @module
 */

import { bridgeName, workloadInnerName, workloadVethName } from "../link_names.ts";
import type {
  DesiredHost,
  DesiredWorkload,
  ObservedHost,
  ObservedLink,
  ObservedWorkload,
} from "./desired.ts";
import type { Change } from "./change.ts";
import { workloadProblem } from "./workload_names.ts";

/** What the plan does for one workload. */
export interface WorkloadResult {
  name: string;
  network: string;
  /** ok: in place; plumb: created or repaired by this plan; error: not plumbed (see `error`). */
  state: "ok" | "plumb" | "error";
  error?: string;
}

/** Changes for every workload, and one result each. */
export function planWorkloads(
  desired: DesiredHost,
  observed: ObservedHost,
): { changes: Change[]; results: WorkloadResult[] } {
  const changes: Change[] = [];
  const results: WorkloadResult[] = [];
  const networks = new Set(desired.networks.map((n) => n.name));
  const seen = new Set<string>();
  for (const w of desired.workloads ?? []) {
    const result = (state: WorkloadResult["state"], error?: string): WorkloadResult =>
      error ? { name: w.name, network: w.network, state, error } : {
        name: w.name,
        network: w.network,
        state,
      };
    const problem = workloadProblem(w) ??
      (!networks.has(w.network) ? `network ${w.network} is not on this box` : null) ??
      (seen.has(`${w.netns} ${w.network}`)
        ? `namespace ${w.netns} already joins ${w.network}`
        : null);
    seen.add(`${w.netns} ${w.network}`);
    if (problem) {
      results.push(result("error", problem));
      continue;
    }
    const seenInside = observed.workloads?.[w.name];
    if (seenInside && !seenInside.netnsFound) {
      results.push(result("error", seenInside.error ?? `namespace ${w.netns} does not exist`));
      continue;
    }
    const host = observed.links.find((l) => l.name === workloadVethName(w.network, w.name));
    const mine = planOne(w, host, seenInside);
    changes.push(...mine);
    results.push(result(mine.length ? "plumb" : "ok"));
  }
  return { changes, results };
}

/** The host veth names every desired workload keeps (so link cleanup leaves them). */
export function workloadLinks(desired: DesiredHost): string[] {
  return (desired.workloads ?? []).map((w) => workloadVethName(w.network, w.name));
}

function planOne(
  w: DesiredWorkload,
  host: ObservedLink | undefined,
  inside: ObservedWorkload | undefined,
): Change[] {
  const h = workloadVethName(w.network, w.name);
  const i = workloadInnerName(w.network);
  const b = bridgeName(w.network);
  const mtu = String(w.mtu);
  const cidr = `${w.address}/${w.prefixLength}`;
  const onHost = (description: string, args: string[]): Change => ({
    kind: "link",
    description: `${w.name}: ${description}`,
    tool: "ip",
    args,
    workload: w.name,
  });
  const inNs = (kind: Change["kind"], description: string, args: string[]): Change => ({
    kind,
    description: `${w.name}: ${description}`,
    tool: "ip",
    args,
    netns: w.netns,
    workload: w.name,
  });
  const out: Change[] = [];
  const whole = host !== undefined && host.kind === "veth" && inside?.inner != null;
  if (!whole) {
    if (host) out.push(onHost(`replace ${h} (its other end is gone)`, ["link", "del", "dev", h]));
    out.push(
      onHost(`veth ${h} into ${w.netns} as ${i}`, [
        ...["link", "add", "name", h, "mtu", mtu, "type", "veth"],
        ...["peer", "name", i, "mtu", mtu, "netns", w.netns],
      ]),
      onHost(`${h} joins ${b}`, ["link", "set", "dev", h, "master", b]),
      onHost(`bring ${h} up`, ["link", "set", "dev", h, "up"]),
      inNs("address", `address ${cidr} on ${i}`, ["address", "add", cidr, "dev", i]),
      inNs("link", `bring ${i} up`, ["link", "set", "dev", i, "up"]),
    );
    if (w.gateway) {
      out.push(inNs("route", `default route via ${w.gateway}`, [
        ...["route", "replace", "default", "via", w.gateway, "dev", i],
      ]));
    }
    return out;
  }
  if (host.master !== b) {
    out.push(onHost(`${h} joins ${b}`, ["link", "set", "dev", h, "master", b]));
  }
  if (host.mtu !== w.mtu) {
    out.push(onHost(`${h} MTU ${mtu}`, ["link", "set", "dev", h, "mtu", mtu]));
  }
  if (!host.up) out.push(onHost(`bring ${h} up`, ["link", "set", "dev", h, "up"]));
  const inner = inside!.inner!;
  if (inner.mtu !== w.mtu) {
    out.push(inNs("link", `${i} MTU ${mtu}`, ["link", "set", "dev", i, "mtu", mtu]));
  }
  if (!inner.addresses.includes(cidr)) {
    out.push(inNs("address", `address ${cidr} on ${i}`, ["address", "add", cidr, "dev", i]));
  }
  for (const a of inner.addresses) {
    if (a !== cidr && !a.startsWith("fe80:")) {
      out.push(inNs("address", `remove stale ${a} from ${i}`, ["address", "del", a, "dev", i]));
    }
  }
  if (!inner.up) out.push(inNs("link", `bring ${i} up`, ["link", "set", "dev", i, "up"]));
  const route = inside!.defaultRoute;
  if (w.gateway && (route?.via !== w.gateway || route.dev !== i)) {
    out.push(inNs("route", `default route via ${w.gateway}`, [
      ...["route", "replace", "default", "via", w.gateway, "dev", i],
    ]));
  }
  return out;
}
