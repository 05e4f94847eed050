/**
 * What every section parser of weave.yaml shares: the typed YAML reader, the diagnostics
 * reporter, the config's absolute path, and path resolution against the config's folder.
 *
 * @module
 */

import type { Reporter } from "./diagnostics.ts";
import type { PasswordAccess } from "./password.ts";
import type { Entry, YamlReader } from "./yaml_reader.ts";

/** The top-level map of weave.yaml, by key. */
export type TopLevel = Map<string, Entry>;

/** Shared by the section parsers (`parse_*.ts`) during one {@link parseConfig} run. */
export interface ParseContext {
  r: YamlReader;
  report: Reporter;
  /** Absolute, normalised path of the config file. */
  path: string;
  /** How password files and the environment are reached. */
  access: PasswordAccess;
  /** Fleet mode: nothing that depends on a box or a secret is checked (password sources). */
  fleet: boolean;
}

/**
 * `path` made absolute against `base` and normalised (POSIX; the agent runs on Linux). Not
 * node:path: importing it would pull Node's global types into everything that imports config/.
 */
export function absolute(path: string, base: string): string {
  const parts: string[] = [];
  for (const seg of (path.startsWith("/") ? path : `${base}/${path}`).split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") parts.pop();
    else parts.push(seg);
  }
  return "/" + parts.join("/");
}

/** The folder holding `absolutePath`. */
export function folderOf(absolutePath: string): string {
  return absolutePath.slice(0, absolutePath.lastIndexOf("/")) || "/";
}

/** A path written in the config, resolved against the config file's folder. */
export function resolveAgainstConfig(ctx: ParseContext, written: string): string {
  return absolute(written, folderOf(ctx.path));
}
