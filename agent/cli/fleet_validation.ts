/**
 * The fleet-mode check `validate` needs, behind the small interface the CLI builds on
 * (`FleetValidation`, the shape of config/fleet.ts `validateFleet` that the config room is
 * adding). Until that lands in config/, this stand-in gives the same answer from `loadConfig`:
 * the file is parsed and validated as usual, but the password's source is not read (an
 * environment variable counts as set, a password file as present and private), and what needs
 * a box or the secret is listed as skipped. When config/ exports `validateFleet`, this file
 * goes and validate.ts imports that instead.
 *
 * @module
 */

import { loadConfig } from "../../config/mod.ts";
import type { Config, Diagnostic } from "../../config/types.ts";

/** A check fleet mode does not make, and why. */
export interface SkippedCheck {
  check: string;
  why: string;
}

/** What fleet-mode validation returns. */
export interface FleetValidation {
  ok: boolean;
  diagnostics: Diagnostic[];
  skipped: SkippedCheck[];
  config: Config | null;
}

/** Stands in for the password's bytes, never used: the secret is not on a CI runner. */
const ABSENT_SECRET = new TextEncoder().encode("secret checked on the boxes\n");

/** Validates the fleet file at `path` without a box identity or a secret. Never throws. */
export async function validateFleet(path: string): Promise<FleetValidation> {
  const r = await loadConfig(path, {
    // Only the password source is read besides the file itself (and the file, by loadConfig).
    readFile: () => ABSENT_SECRET,
    statMode: () => 0o100600,
    env: new Proxy({} as Record<string, string | undefined>, { get: () => "set on the boxes" }),
  });
  const config = r.ok ? r.config : null;
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
  return { ok: r.ok, diagnostics: r.diagnostics, skipped, config };
}
