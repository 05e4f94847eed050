/**
 * Applies a plan: `ip -batch -`, `bridge -batch -` and `nft -f -`, one process per run of
 * consecutive changes of one tool, never one per object. Thin: all decisions are in plan.ts.
 *
 * @module
 */

import type { Change } from "./plan.ts";
import { runCommand as run } from "../command.ts";

/** Result of applying: how many processes it took. */
export interface ApplyResult {
  spawns: number;
}

/** Runs `changes` in order; throws with the failing tool's message on error. */
export async function applyChanges(
  changes: Change[],
  opts: { netns?: string } = {},
): Promise<ApplyResult> {
  let spawns = 0;
  let i = 0;
  while (i < changes.length) {
    const tool = changes[i].tool;
    let j = i;
    while (j < changes.length && changes[j].tool === tool && (tool !== "nft" || j === i)) j++;
    const group = changes.slice(i, j);
    spawns++;
    if (tool === "nft") {
      const r = await run("nft", ["-f", "-"], { ...opts, stdin: group[0].args[0] });
      if (!r.ok) throw new Error(`nft: ${r.stderr.trim()} (${group[0].description})`);
    } else {
      for (const c of group) {
        for (const a of c.args) {
          if (/[\n"\\]/.test(a)) {
            throw new Error(`refusing to batch an argument with quotes or newlines: ${a}`);
          }
        }
      }
      const text = group.map((c) => c.args.join(" ")).join("\n") + "\n";
      const r = await run(tool, ["-batch", "-"], { ...opts, stdin: text });
      if (!r.ok) {
        const line = /line (\d+)/.exec(r.stderr)?.[1];
        const failed = line ? group[Number(line) - 1]?.description : undefined;
        throw new Error(
          `${tool} -batch: ${r.stderr.trim().split("\n")[0]}${failed ? ` (at: ${failed})` : ""}`,
        );
      }
    }
    i = j;
  }
  return { spawns };
}
