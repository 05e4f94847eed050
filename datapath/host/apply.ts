/**
 * Applies a plan: `ip -batch -`, `bridge -batch -` and `nft -f -`, one process per run of
 * consecutive changes of one tool (and one namespace, and one workload), never one per object.
 * Consecutive nft changes are one script, so `nft -f` loads them as one transaction. Inside a
 * workload's namespace given by path, `ip` runs under `nsenter --net=PATH`. Thin: all decisions
 * are in the planner.
 *
 * @module
 */

import type { Change } from "./change.ts";
import { runCommand as run } from "../command.ts";
import { writeProcSysctls } from "./proc_sysctl.ts";

/** Result of applying: how many processes it took, and the workloads that failed. */
export interface ApplyResult {
  spawns: number;
  /** Workload name -> the failing tool's message; its later changes were skipped. */
  workloadErrors: Record<string, string>;
}

/** Consecutive changes that run in one process. */
function groups(changes: Change[]): Change[][] {
  const out: Change[][] = [];
  for (const c of changes) {
    const last = out.at(-1)?.[0];
    const same = last && last.tool === c.tool && last.netns === c.netns &&
      last.workload === c.workload;
    if (same) out.at(-1)!.push(c);
    else out.push([c]);
  }
  return out;
}

/** Runs one group; returns the error message, or null when it succeeded. */
async function runGroup(group: Change[], opts: { netns?: string }): Promise<string | null> {
  const tool = group[0].tool;
  if (tool === "sysctl") {
    const items = group.flatMap((c) => c.args);
    for (const a of items) {
      if (!/^[a-z0-9_.-]+=[0-9]+$/.test(a)) return `refusing sysctl item ${JSON.stringify(a)}`;
    }
    // This box's own namespace: written in-process, as `sysctl -w` would (proc_sysctl.ts).
    if (!opts.netns) return await writeProcSysctls(items);
    const r = await run("sysctl", ["-qw", ...items], opts);
    return r.ok ? null : `sysctl -w: ${r.stderr.trim().split("\n")[0]} (${items.join(" ")})`;
  }
  if (tool === "nft") {
    const r = await run("nft", ["-f", "-"], {
      ...opts,
      stdin: group.map((c) => c.args[0]).join(""),
    });
    if (r.ok) return null;
    const what = group.map((c) => c.description).join("; ");
    return `nft -f: ${r.stderr.trim().split("\n").slice(0, 3).join(" / ")} (${what})`;
  }
  for (const c of group) {
    for (const a of c.args) {
      if (/[\n"\\]/.test(a)) return `refusing to batch an argument with quotes or newlines: ${a}`;
    }
  }
  const text = group.map((c) => c.args.join(" ")).join("\n") + "\n";
  const ns = group[0].netns;
  const r = ns?.startsWith("/")
    ? await run("nsenter", [`--net=${ns}`, tool, "-batch", "-"], { ...opts, stdin: text })
    : await run(tool, ns ? ["-n", ns, "-batch", "-"] : ["-batch", "-"], { ...opts, stdin: text });
  if (r.ok) return null;
  const line = /line (\d+)/.exec(r.stderr)?.[1];
  const failed = line ? group[Number(line) - 1]?.description : undefined;
  return `${tool} -batch: ${r.stderr.trim().split("\n")[0]}${failed ? ` (at: ${failed})` : ""}`;
}

/**
 * Runs `changes` in order. Throws with the failing tool's message when a change of the box
 * fails; a workload's failure is recorded in `workloadErrors` and the rest goes on.
 */
export async function applyChanges(
  changes: Change[],
  opts: { netns?: string } = {},
): Promise<ApplyResult> {
  let spawns = 0;
  const workloadErrors: Record<string, string> = {};
  for (const group of groups(changes)) {
    const w = group[0].workload;
    if (w !== undefined && workloadErrors[w]) continue;
    spawns++;
    const error = await runGroup(group, opts);
    if (error === null) continue;
    if (w === undefined) throw new Error(error);
    workloadErrors[w] = error;
  }
  return { spawns, workloadErrors };
}
