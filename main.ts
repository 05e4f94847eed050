/**
 * `weave-agent` entry point. Run as `deno task agent <command>` during development; the
 * compiled binary takes the same arguments.
 *
 * @module
 */

import { commandHelp, mainHelp, parseCommandLine, UsageError } from "./agent/cli/args.ts";
import {
  checkCommand,
  downCommand,
  planCommand,
  statusCommand,
  upCommand,
  validateCommand,
} from "./agent/cli/commands.ts";
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
  const { command, flags } = parsed;
  try {
    switch (command) {
      case "up":
        return await upCommand(flags);
      case "validate":
        return await validateCommand(flags);
      case "plan":
        return await planCommand(flags);
      case "check":
        return await checkCommand(flags);
      case "status":
        return await statusCommand(flags);
      case "down":
        return await downCommand(flags);
    }
  } catch (e) {
    console.error(`weave-agent ${command}: ${e instanceof Error ? e.message : e}`);
    return 1;
  }
  return 2;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
