/**
 * The `yaml` package, as every file of `config/` uses it: its ES-module build where the
 * checkout's `node_modules/` has it, else the package as Deno resolves it.
 *
 * Why: Deno resolves `npm:yaml` by its `node` export, the CommonJS build, and loads its ~50
 * files through the Node compatibility layer's `require`: 25–35 ms of CPU at every start of
 * every command (measured: importing `yaml` 34 ms, its ES-module build 7 ms). The ES-module build
 * (`browser/`, the same library and version, what bundlers use) loads as ordinary modules. The
 * path is not a literal, so neither `deno check` nor `deno compile` depends on it: a compiled
 * binary, or a cache without a local `node_modules/`, takes the fallback and works the same,
 * only slower to start.
 *
 * @module
 */

import type * as Yaml from "yaml";

/** The ES-module build, relative to this file (`nodeModulesDir: auto` in deno.json). */
const ESM_BUILD = new URL("../node_modules/yaml/browser/index.js", import.meta.url).href;

async function load(): Promise<typeof Yaml> {
  try {
    return await import(ESM_BUILD);
  } catch {
    return await import("yaml");
  }
}

const yaml = await load();

export const { isAlias, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, parseDocument } =
  yaml;
export type LineCounter = Yaml.LineCounter;
export type { Document, Scalar, YAMLMap, YAMLSeq } from "yaml";
