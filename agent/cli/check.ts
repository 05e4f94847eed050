/**
 * `weave-agent check`: the preflight (agent/check/).
 *
 * @module
 */

import { checkExitCode, renderCheck, runCheck } from "../check/check.ts";
import { resolveRunDir } from "../ops/run_paths.ts";
import type { CommonFlags } from "./args.ts";

export async function checkCommand(flags: CommonFlags): Promise<number> {
  const report = await runCheck({
    configPath: flags.config,
    name: flags.name,
    runDir: resolveRunDir(flags.runDir),
  });
  console.log(
    flags.json ? JSON.stringify(report, null, 2) : renderCheck(report, {
      color: Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR"),
    }),
  );
  return checkExitCode(report);
}
