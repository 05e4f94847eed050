/**
 * Loading weave.yaml from disk: the only part of config/ that reads the config file itself.
 *
 * @module
 */

import { parseConfig, type ParseOptions } from "./parse.ts";
import type { LoadResult } from "./types.ts";

/**
 * Reads and validates the config at `path`. A missing or unreadable file is an error
 * diagnostic (at 1:1 of that path), never an exception.
 */
export async function loadConfig(path: string, opts: ParseOptions = {}): Promise<LoadResult> {
  let text: string;
  try {
    // Fatal decoding: a binary or Latin-1 file must not turn into U+FFFD soup with odd errors.
    text = new TextDecoder("utf-8", { fatal: true }).decode(await Deno.readFile(path));
  } catch (e) {
    const notText = e instanceof TypeError;
    const notFound = e instanceof Deno.errors.NotFound;
    const isDir = e instanceof Deno.errors.IsADirectory;
    return {
      ok: false,
      diagnostics: [{
        severity: "error",
        file: path,
        line: 1,
        column: 1,
        message: notText
          ? "config file is not UTF-8 text"
          : notFound
          ? "config file not found"
          : isDir
          ? "config path is a directory, not a file"
          : `config file cannot be read: ${e instanceof Error ? e.message : String(e)}`,
        hint: notText
          ? "save weave.yaml as UTF-8"
          : notFound || isDir
          ? "pass the path of weave.yaml with --config"
          : "check the file's permissions; the agent runs as root",
      }],
    };
  }
  return parseConfig(text, path, opts);
}
