/**
 * One reconcile of the host: observe (inside every workload's namespace too), plan, apply, and
 * what came of each workload. A workload whose namespace is missing, or whose plumbing fails,
 * is an error for that workload only: the plan goes on for everything else, and the next
 * reconcile (periodic, or a reload) plumbs it once its namespace exists. Policy changes ride in
 * the plan as one nft transaction (the whole `weave_policy` table replaced at once), so a reload
 * never leaves a moment where neither the old nor the new policy holds.
 *
 * A thin layer: all decisions are in `planHostDetailed` (datapath/host).
 *
 * @module
 */

import type { DesiredHost } from "../datapath/host/mod.ts";
import {
  applyChanges,
  type Change,
  type HostPlan,
  observeHost,
  planHostDetailed,
  renderPlan,
} from "../datapath/host/mod.ts";

/** A workload as `status` shows it. */
export interface WorkloadState {
  name: string;
  network: string;
  /** ok: plumbed (now or before); error: not plumbed, see `error`. */
  state: "ok" | "error";
  /** Why not (missing namespace, a failing command); absent when ok. */
  error?: string;
  /** Its overlay address. */
  address: string;
  netns: string;
}

/** What one reconcile did. */
export interface HostReconcile {
  changes: Change[];
  workloads: WorkloadState[];
  /** Problems of the box beyond single workloads; empty when all is well. */
  problems: string[];
}

/** The plan this box would run now, with per-workload results (for `plan` and reconcile). */
export async function planNow(desired: DesiredHost, opts: { netns?: string } = {}) {
  const observed = await observeHost({ ...opts, workloads: desired.workloads ?? [] });
  return planHostDetailed(desired, observed);
}

/**
 * A plan as `weave-agent plan` prints it: the changes, then a comment per workload that will not
 * be plumbed and why (its namespace is missing, say): the rest of the plan still applies.
 */
export function planText(plan: HostPlan, showKeys: boolean): string {
  const errors = plan.workloads.filter((w) => w.state === "error")
    .map((w) => `# workload ${w.name} (${w.network}) not plumbed: ${w.error ?? "unknown"}`);
  const lines = [renderPlan(plan.changes, { showKeys }).replace(/\n$/, ""), ...errors];
  const out = lines.filter((l) => l).join("\n");
  return out ? out + "\n" : "";
}

/** Observe, plan, apply. Throws when a change of the box (not of one workload) fails. */
export async function reconcileHost(
  desired: DesiredHost,
  opts: { netns?: string; log?: (line: string) => void } = {},
): Promise<HostReconcile> {
  const problems: string[] = [];
  const plan = await planNow(desired, opts);
  for (const line of renderPlan(plan.changes, { showKeys: false }).split("\n")) {
    if (line) opts.log?.(line);
  }
  const applied = plan.changes.length
    ? await applyChanges(plan.changes, { netns: opts.netns })
    : { spawns: 0, workloadErrors: {} as Record<string, string> };
  const byName = new Map((desired.workloads ?? []).map((w) => [w.name, w]));
  const workloads = plan.workloads.map((r): WorkloadState => {
    const w = byName.get(r.name);
    const error = r.state === "error" ? r.error : applied.workloadErrors[r.name];
    const base = {
      name: r.name,
      network: r.network,
      address: w?.address ?? "",
      netns: w?.netns ?? "",
    };
    return error ? { ...base, state: "error", error } : { ...base, state: "ok" };
  });
  return { changes: plan.changes, workloads, problems };
}
