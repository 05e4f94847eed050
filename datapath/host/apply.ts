/**
 * Applies a plan: `ip -batch -`, `bridge -batch -` and `nft -f -`, one process per run of
 * consecutive changes of one tool (and one namespace), never one per object. Consecutive nft
 * changes are one script, so `nft -f` loads them as one transaction. Thin: all decisions are in
 * the planner.
 *
 * @module
 */

import type { Change } from "./change.ts";
import { runCommand as run } from "../command.ts";

/** Result of applying: how many processes it took. */
export interface ApplyResult {
  spawns: number;
}

/** Consecutive changes that run in one process. */
function groups(changes: Change[]): Change[][] {
  const out: Change[][] = [];
  for (const c of changes) {
    const last = out.at(-1)?.[0];
    if (last && last.tool === c.tool && last.netns === c.netns) out.at(-1)!.push(c);
    else out.push([c]);
  }
  return out;
}

/** Runs `changes` in order; throws with the failing tool's message on error. */
export async function applyChanges(
  changes: Change[],
  opts: { netns?: string } = {},
): Promise<ApplyResult> {
  let spawns = 0;
  for (const group of groups(changes)) {
    spawns++;
    const tool = group[0].tool;
    if (tool === "nft") {
      const r = await run("nft", ["-f", "-"], {
        ...opts,
        stdin: group.map((c) => c.args[0]).join(""),
      });
      if (!r.ok) {
        const what = group.map((c) => c.description).join("; ");
        throw new Error(`nft -f: ${r.stderr.trim().split("\n").slice(0, 3).join(" / ")} (${what})`);
      }
      continue;
    }
    for (const c of group) {
      for (const a of c.args) {
        if (/[\n"\\]/.test(a)) {
          throw new Error(`refusing to batch an argument with quotes or newlines: ${a}`);
        }
      }
    }
    const text = group.map((c) => c.args.join(" ")).join("\n") + "\n";
    const ns = group[0].netns;
    const args = ns ? ["-n", ns, "-batch", "-"] : ["-batch", "-"];
    const r = await run(tool, args, { ...opts, stdin: text });
    if (!r.ok) {
      const line = /line (\d+)/.exec(r.stderr)?.[1];
      const failed = line ? group[Number(line) - 1]?.description : undefined;
      throw new Error(
        `${tool} -batch: ${r.stderr.trim().split("\n")[0]}${failed ? ` (at: ${failed})` : ""}`,
      );
    }
  }
  return { spawns };
}
