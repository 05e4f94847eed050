/**
 * The host planner: `planHost(desired, observed)` returns the minimal, safely ordered list of
 * changes that turns what the kernel has into what the agent wants, nft rulesets included.
 * Pure: no I/O, so it is golden-tested, and `weave-agent plan` prints exactly what reconcile
 * runs. `teardownPlan` is what `down` runs: it removes every kind of object `planHost` creates.
 *
 * Only objects the agent owns are ever touched: links named `wv[btx]-*`, xfrm SAs and policies
 * whose reqid lies in our range, our nft tables.
 *
 * Phases, in order (within a phase changes are grouped by tool, see `byTool`):
 * 1. early: bridges, addresses, TAPs, VXLAN devices created but down (nothing can leak yet);
 * 2. guard: nft tables, then SAs and policies (before any VXLAN is up), then kernel switches
 *    (forwarding per bridge, bridge netfilter);
 * 3. late: VXLAN up, forwarding entries;
 * 4. workloads: each one's veth, address and route, in batches of its own;
 * 5. cleanup: stale entries, policies, SAs and links (a gone workload's veth).
 *
 * @module
 */

import { isOwnedLink } from "../link_names.ts";
import type { DesiredEspPair, DesiredHost, ObservedHost } from "./desired.ts";
import { byTool, type Change, ipChange, renderPlan } from "./change.ts";
import { planLinks } from "./plan_links.ts";
import { planFdb } from "./plan_fdb.ts";
import { planEsp, removePolicy, removeSa } from "./plan_esp.ts";
import { planNft, removeNftTables } from "./plan_nft.ts";
import { planWorkloads, type WorkloadResult } from "./plan_workloads.ts";
import { planSysctls } from "./plan_sysctl.ts";
import { ownsReqid } from "./xfrm_args.ts";

export { type Change, renderPlan, type WorkloadResult };
export { NFT_TABLE } from "./nft_table.ts";
export { nftGuard } from "./plan_nft.ts";
export { ownsReqid, policyArgs, reqidFor, saArgs } from "./xfrm_args.ts";

/** The minimal ordered change list. Throws when the desired state is inconsistent (SPI clash). */
export function planHost(desired: DesiredHost, observed: ObservedHost): Change[] {
  return planHostDetailed(desired, observed).changes;
}

/** A plan and what it does for each workload (a workload's error never fails the plan). */
export interface HostPlan {
  changes: Change[];
  workloads: WorkloadResult[];
}

/** `planHost` with per-workload results. */
export function planHostDetailed(desired: DesiredHost, observed: ObservedHost): HostPlan {
  const links = planLinks(desired, observed);
  const fdb = planFdb(desired, observed);
  const esp = planEsp(desired, observed);
  const nft = planNft(desired, observed);
  const workloads = planWorkloads(desired, observed);
  const sysctls = planSysctls(desired, observed);
  const changes = [
    ...byTool(links.early),
    ...byTool([...nft, ...esp.add]),
    // After the bridges exist (their switches appear with them), before anything is plumbed.
    ...sysctls,
    ...byTool([...links.late, ...fdb.add]),
    // Per workload, in its own order (host end, then inside its namespace).
    ...workloads.changes,
    ...byTool([...fdb.remove, ...esp.remove, ...links.cleanup]),
  ];
  return { changes, workloads: workloads.results };
}

/** Everything `down` removes: our links, our SAs and policies, our nft tables. */
export function teardownPlan(observed: ObservedHost): Change[] {
  const owned = observed.links.filter((l) => isOwnedLink(l.name));
  const linkDel = (name: string) =>
    ipChange("link", `remove ${name}`, ["link", "del", "dev", name]);
  return [
    // VXLAN links first: nothing may send VXLAN in clear once the policies are gone.
    ...owned.filter((l) => l.kind === "vxlan").map((l) => linkDel(l.name)),
    ...observed.policies.filter((p) => ownsReqid(p.reqid)).map((p) => removePolicy(p, 0, "remove")),
    ...owned.filter((l) => l.kind !== "vxlan").map((l) => linkDel(l.name)),
    ...observed.sas.filter((s) => ownsReqid(s.reqid)).map((s) => removeSa(s, "remove")),
    ...removeNftTables(observed),
  ];
}

/** Exposed for tests and golden files. */
export type { DesiredEspPair };
