/**
 * `weave-agent check`: the preflight of this box against the config. It reads, binds-and-closes
 * and connects, but changes nothing.
 *
 * ```ts
 * const report = await runCheck({ configPath: "/etc/weave/weave.yaml", name: "edge-1" });
 * console.log(renderCheck(report, { color: Deno.stdout.isTerminal() }));
 * Deno.exit(checkExitCode(report));
 * ```
 *
 * ## What the folder holds
 * - `check.ts`: the runner (`runCheck`): observes the box, loads the config, computes the items;
 *   the report's rendering and exit code.
 * - `host_facts.ts`: the thin I/O layer (tool versions, `ip -json` tables, bind-and-close,
 *   TCP connects), every call bounded by a timeout; processes run through
 *   `datapath/command.ts`.
 * - `items.ts` (index and the table of item ids) and one pure file per group:
 *   `items_tools.ts`, `items_kernel.ts`, `items_underlay.ts`, `items_password.ts`,
 *   `items_host.ts`, `items_peers.ts`; `item.ts` is the item type.
 * - `password_strength.ts`: the guessing-entropy estimate behind `password.strength`.
 *
 * ## What it may import
 * `config/mod.ts` and `config/types.ts` (never other config files), `datapath/` (the kernel
 * probe and its `datapathCaps`, the process runner, link names, the sleeve's capabilities),
 * `agent/datapath_choice.ts` (the datapath decision it predicts) and `agent/ops/run_paths.ts`
 * (where a running agent's socket is). Nothing imports `agent/check/` but the CLI and tests.
 *
 * @module
 */

export {
  type CheckDeps,
  checkExitCode,
  type CheckOptions,
  type CheckReport,
  type CheckSummary,
  DEFAULT_CHECK_TIMEOUT_MS,
  renderCheck,
  runCheck,
} from "./check.ts";
export type { CheckItem, CheckStatus } from "./item.ts";
