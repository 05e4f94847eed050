/**
 * Which peer this box is when no config is at hand: the one rule, kept in a leaf with no
 * imports so that the light commands (`status`, `down`) find their agent without loading the
 * config parser (and its YAML library) — `status --json` must answer fast on a big fleet.
 *
 * @module
 */

/** This box's peer name: the `--name` flag when given, else the host name. */
export function selfName(flagName?: string): string {
  return flagName !== undefined && flagName !== "" ? flagName : Deno.hostname();
}
