/**
 * What `weave-agent validate` reports, in its three forms: text for a terminal, GitHub Actions
 * workflow commands (`::error file=…,line=…,col=…::…`) for a fleet repository's CI, and a
 * stable JSON object. Pure: the command (validate.ts) gathers the facts.
 *
 * @module
 */

import { type Config, describeList, type Diagnostic, type SkippedCheck } from "../../config/mod.ts";

/** `validate --json`: these keys, always. */
export interface ValidateReport {
  /** True when the file is valid (and, in box mode, names this box). */
  ok: boolean;
  /** `fleet`: checked without a box or secret; `box`: one box's view (`--name`, or a peer). */
  mode: "fleet" | "box";
  /** Errors and warnings with file, line, column, message, hint. */
  diagnostics: Diagnostic[];
  /** What fleet mode could not check, and why (empty in box mode). */
  skipped: SkippedCheck[];
  /** The peer this box is, in box mode. */
  self: string | null;
  /** The human summary (what the file means for the box, or for the fleet). */
  summary: string | null;
}

/** One line per network: what a valid fleet file means, without a box. Long lists are summed
 * up (`describeList`), so a fleet of 10,000 peers prints short lines. */
export function describeFleet(config: Config): string {
  const lines = [
    `${config.path}: valid for a fleet of ${config.peers.length} peer${
      config.peers.length === 1 ? "" : "s"
    } (${describeList(config.peers.map((p) => p.name), null)})`,
    `  password: ${
      config.password === null
        ? "none (no encryption, no authentication)"
        : config.password.kind === "file"
        ? `file ${config.password.path}`
        : `environment variable ${config.password.name}`
    }; datapath: ${config.datapath}; port ${config.port}, VXLAN port ${config.vxlanPort}`,
  ];
  const counted = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  const extras = [
    config.workloads.length ? counted(config.workloads.length, "workload", "workloads") : "",
    config.routes.length ? counted(config.routes.length, "route", "routes") : "",
    config.policies.length ? counted(config.policies.length, "policy", "policies") : "",
  ].filter((x) => x !== "");
  if (extras.length > 0) lines.push(`  ${extras.join(", ")}`);
  for (const n of config.networks) {
    lines.push(
      `  network ${n.name}: ${n.subnet}, VNI ${n.vni}${n.vniDerived ? " (derived)" : ""}, ` +
        `${n.members.length} member${n.members.length === 1 ? "" : "s"}: ${
          describeList(n.members.map((m) => `${m.peer}=${m.address}`), null, { separator: " " })
        }`,
    );
  }
  return lines.join("\n");
}

/** Escapes a workflow command's message (GitHub's `escapeData`). */
export function escapeData(s: string): string {
  return s.replaceAll("%", "%25").replaceAll("\r", "%0D").replaceAll("\n", "%0A");
}

/** Escapes a workflow command's property value (GitHub's `escapeProperty`). */
export function escapeProperty(s: string): string {
  return escapeData(s).replaceAll(":", "%3A").replaceAll(",", "%2C");
}

/** `file` relative to `cwd` when inside it (annotations name files from the repository root). */
export function relativeTo(file: string, cwd: string): string {
  const base = cwd.endsWith("/") ? cwd : `${cwd}/`;
  return file.startsWith(base) ? file.slice(base.length) : file;
}

/**
 * The report as GitHub Actions workflow commands: one `::error` / `::warning` per diagnostic at
 * its file, line and column, one `::notice` per skipped check, and a last line saying the
 * outcome.
 */
export function githubAnnotations(report: ValidateReport, cwd: string): string[] {
  const out = report.diagnostics.map((d) => {
    const props = [
      `file=${escapeProperty(relativeTo(d.file, cwd))}`,
      `line=${d.line}`,
      `col=${d.column}`,
      `title=${escapeProperty(`weave.yaml ${d.severity}`)}`,
    ].join(",");
    const text = d.hint ? `${d.message} (hint: ${d.hint})` : d.message;
    return `::${d.severity} ${props}::${escapeData(text)}`;
  });
  for (const s of report.skipped) {
    out.push(`::notice title=${escapeProperty(`skipped: ${s.check}`)}::${escapeData(s.why)}`);
  }
  const errors = report.diagnostics.filter((d) => d.severity === "error").length;
  if (report.ok) out.push(`weave-agent validate: valid (${report.mode} mode)`);
  else if (errors > 0) out.push(`weave-agent validate: ${errors} error${errors === 1 ? "" : "s"}`);
  else out.push(`::error title=weave.yaml::${escapeData(report.summary ?? "not valid")}`);
  return out;
}
