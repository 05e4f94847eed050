/**
 * The `weave-agent` command line, on top of everything.
 *
 * What it holds:
 * - `args.ts`           argument parsing, help texts, exit-code conventions
 * - `commands.ts`       the dispatcher: imports a command's file only when that command runs
 * - `up.ts`, `validate.ts`, `plan.ts`, `check.ts`, `status.ts`, `down.ts`: one file per command
 * - `status_render.ts`  the human rendering of `status`
 *
 * What it may import: anything of ours. `args.ts` and `commands.ts` import no command and no
 * native library at load, so `--help`, `--version` and usage errors run with FFI denied (a unit
 * test holds this); the command files import what they need.
 *
 * @module
 */

export { commandHelp, type CommonFlags, mainHelp, parseCommandLine, UsageError } from "./args.ts";
export { type Command, dispatch } from "./commands.ts";
