/**
 * The dispatcher: one file per command, each loaded only when it runs. Nothing here (nor in
 * `args.ts`) imports the agent, the sleeve or the host reconciler at module load, so `--help`,
 * `--version` and usage errors never load a native library.
 *
 * @module
 */

import type { CommonFlags } from "./args.ts";

/** A command: flags in, exit code out. Output on stdout; logs and errors on stderr. */
export type Command = (flags: CommonFlags) => Promise<number>;

/** Each command's file, imported when the command runs. */
const COMMAND_FILES: Record<string, () => Promise<Command>> = {
  up: async () => (await import("./up.ts")).upCommand,
  validate: async () => (await import("./validate.ts")).validateCommand,
  plan: async () => (await import("./plan.ts")).planCommand,
  check: async () => (await import("./check.ts")).checkCommand,
  status: async () => (await import("./status.ts")).statusCommand,
  down: async () => (await import("./down.ts")).downCommand,
  genpass: async () => (await import("./genpass.ts")).genpassCommand,
};

/** Runs `command`; an error it throws is printed as `weave-agent <command>: …`, exit 1. */
export async function dispatch(command: string, flags: CommonFlags): Promise<number> {
  const load = COMMAND_FILES[command];
  if (!load) {
    console.error(`weave-agent: no command ${JSON.stringify(command)}`);
    return 2;
  }
  try {
    return await (await load())(flags);
  } catch (e) {
    console.error(`weave-agent ${command}: ${e instanceof Error ? e.message : e}`);
    return 1;
  }
}

/** The commands the dispatcher knows, for the test that keeps it in step with `args.ts`. */
export const DISPATCHED: readonly string[] = Object.keys(COMMAND_FILES);
