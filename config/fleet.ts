/**
 * Fleet-mode validation, for a fleet repository's CI: everything in weave.yaml that does not
 * depend on a box or a secret — structure, names, addresses, subnets, VNIs, members, ports,
 * keys, workloads, routes, policies and policy files — with the usual file:line:column
 * diagnostics, plus the list of checks that were skipped and why (which box this is, the
 * password sources, the private key). `weave-agent validate` without `--name` builds on it.
 *
 * ```ts
 * const r = await validateFleet("weave.yaml");
 * for (const d of r.diagnostics) console.error(formatDiagnostic(d));
 * for (const s of r.skipped) console.error(`skipped ${s.check}: ${s.why}`);
 * Deno.exit(r.ok ? 0 : 1);
 * ```
 *
 * @module
 */

import { loadConfig } from "./load.ts";
import type { ParseOptions } from "./parse.ts";
import type { Config, Diagnostic } from "./types.ts";

/** A check fleet mode does not make, and why. */
export interface SkippedCheck {
  /** Stable id: `identity`, `password.source`, `password.previous`, `key_file`. */
  check: "identity" | "password.source" | "password.previous" | "key_file";
  why: string;
}

/** The result of {@link validateFleet}. */
export interface FleetValidation {
  /** True when there is no error (warnings allowed). */
  ok: boolean;
  /** Errors and warnings, errors and warnings mixed in file order (policy files after). */
  diagnostics: Diagnostic[];
  /** Checks left to the boxes (`weave-agent validate --name`, `check`), with why. */
  skipped: SkippedCheck[];
  /** The validated config, when ok. */
  config: Config | null;
}

/** Validates the fleet file at `path` without a box identity or a secret. Never throws. */
export async function validateFleet(
  path: string,
  opts: Omit<ParseOptions, "fleet" | "env"> = {},
): Promise<FleetValidation> {
  const r = await loadConfig(path, { ...opts, env: {}, fleet: true });
  const config = r.ok ? r.config : null;
  return { ok: r.ok, diagnostics: r.diagnostics, skipped: skippedChecks(config), config };
}

/** What fleet mode leaves to the boxes for this config (all of them when it did not load). */
export function skippedChecks(config: Config | null): SkippedCheck[] {
  const skipped: SkippedCheck[] = [{
    check: "identity",
    why: "which peer a box is (--name or its hostname) is only known on the box",
  }];
  const source = config?.password;
  if (!config || source) {
    skipped.push({
      check: "password.source",
      why: source?.kind === "env"
        ? `the password comes from environment variable ${source.name}, set on the boxes only`
        : source?.kind === "file"
        ? `the password file ${source.path} exists on the boxes only`
        : "the password source is read on the boxes only",
    });
  }
  if (!config || config.previousPassword) {
    skipped.push({
      check: "password.previous",
      why: "the previous password, during a rotation, is read on the boxes only",
    });
  }
  if (!config || config.peers.some((p) => p.key !== null)) {
    skipped.push({
      check: "key_file",
      why: "each box's private key (key_file) exists on that box only",
    });
  }
  return skipped;
}
