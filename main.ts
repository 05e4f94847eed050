/**
 * `weave-agent` entry point. Run as `deno task agent <command>` during development; the
 * compiled binary takes the same arguments. Loads only argument parsing and the dispatcher at
 * start; each command's file (and whatever native library it needs) loads when it runs.
 *
 * @module
 */

import { commandHelp, mainHelp, parseCommandLine, UsageError } from "./agent/cli/args.ts";
import { dispatch } from "./agent/cli/commands.ts";
import denoJson from "./deno.json" with { type: "json" };

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCommandLine(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`weave-agent: ${e.message}\n\n${mainHelp()}`);
      return 2;
    }
    throw e;
  }
  if (parsed.kind === "help") {
    console.log(parsed.command ? commandHelp(parsed.command) : mainHelp());
    return 0;
  }
  if (parsed.kind === "version") {
    console.log(`weave-agent ${denoJson.version}`);
    return 0;
  }
  return await dispatch(parsed.command, parsed.flags);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
