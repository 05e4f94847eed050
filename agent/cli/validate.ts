/**
 * `weave-agent validate`: checks weave.yaml, anywhere.
 *
 * - Fleet mode (no `--name`, and this host is not a peer: a CI runner): everything that does
 *   not depend on a box or the secret (config/fleet.ts `validateFleet`); what does is listed as
 *   skipped, with why. Exit 0 when the file is valid.
 * - Box mode (`--name`, or this host is a peer): the fleet checks, then the file as that box
 *   loads it (password source included) and what it means for the box.
 *
 * Output: text (diagnostics on stderr, the summary on stdout), `--format github` (workflow
 * commands on stdout), or `--json` (validate_report.ts `ValidateReport`).
 *
 * @module
 */

import {
  describeForPeer,
  findSelf,
  formatDiagnostic,
  loadConfig,
  selfName,
  validateFleet,
} from "../../config/mod.ts";
import type { CommonFlags } from "./args.ts";
import { describeFleet, githubAnnotations, type ValidateReport } from "./validate_report.ts";

/** Gathers the report: fleet checks first, then one box's view when there is a box. */
export async function validateReport(
  flags: Pick<CommonFlags, "config" | "name">,
): Promise<ValidateReport> {
  const fleet = await validateFleet(flags.config);
  const name = selfName(flags.name);
  const boxMode = flags.name !== undefined ||
    (fleet.config !== null && findSelf(fleet.config, name) !== undefined);
  if (!fleet.ok || fleet.config === null) {
    return {
      ok: false,
      mode: boxMode ? "box" : "fleet",
      diagnostics: fleet.diagnostics,
      skipped: fleet.skipped,
      self: null,
      summary: null,
    };
  }
  if (!boxMode) {
    return {
      ok: true,
      mode: "fleet",
      diagnostics: fleet.diagnostics,
      skipped: fleet.skipped,
      self: null,
      summary: describeFleet(fleet.config),
    };
  }
  const box = await loadConfig(flags.config);
  const self = box.ok ? findSelf(box.config, name) : undefined;
  return {
    ok: box.ok && self !== undefined,
    mode: "box",
    diagnostics: box.diagnostics,
    skipped: [],
    self: self?.name ?? null,
    summary: box.ok ? describeForPeer(box.config, name) : null,
  };
}

export async function validateCommand(flags: CommonFlags): Promise<number> {
  const report = await validateReport(flags);
  const code = report.ok ? 0 : 1;
  if (flags.json) {
    console.log(JSON.stringify(report, null, 2));
    return code;
  }
  if (flags.format === "github") {
    for (const line of githubAnnotations(report, Deno.cwd())) console.log(line);
    return code;
  }
  for (const d of report.diagnostics) console.error(formatDiagnostic(d));
  for (const s of report.skipped) console.error(`skipped ${s.check}: ${s.why}`);
  if (report.ok) {
    console.log(report.summary);
    return 0;
  }
  const errors = report.diagnostics.filter((d) => d.severity === "error").length;
  if (errors > 0) {
    console.error(`${flags.config}: ${errors} error${errors === 1 ? "" : "s"}; config not valid`);
  } else if (report.summary) {
    console.error(report.summary); // box mode: the file is fine, but it does not name this box
  }
  return code;
}
