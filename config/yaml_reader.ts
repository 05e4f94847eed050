/**
 * Typed reading of a parsed YAML document. Every mismatch becomes a diagnostic at the node that
 * caused it; readers return undefined instead of throwing so that one bad value never hides the
 * next one.
 *
 * @module
 */

import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type Scalar,
  type YAMLMap,
  type YAMLSeq,
} from "./yaml.ts";
import { didYouMean } from "./did_you_mean.ts";
import type { Reporter } from "./diagnostics.ts";

/** A node after alias resolution. */
export type YNode = Scalar | YAMLMap | YAMLSeq;

/** One `key: value` of a map. `value` is null only when the pair has no value node at all. */
export interface Entry {
  key: Scalar;
  value: YNode | null;
}

/** The entries of a map, plus the keys that were refused as unknown. */
export class MapEntries extends Map<string, Entry> {
  /** Unknown keys found (already reported); "missing key" errors are noise when non-empty. */
  unknownKeys: string[] = [];
}

/** How a value is described after "got" in messages. */
export function describeValue(node: YNode | null): string {
  if (!node) return "nothing";
  if (isMap(node)) return "a map";
  if (isSeq(node)) return "a list";
  const v = (node as Scalar).value;
  if (v === null || v === undefined) return "nothing";
  if (typeof v === "string") return JSON.stringify(v);
  return String(v);
}

/** Reads maps, lists and scalars out of one document, reporting what does not fit. */
export class YamlReader {
  constructor(readonly doc: Document.Parsed, readonly report: Reporter) {}

  /** Follows aliases (`*name`) to the node they stand for. */
  resolve(node: unknown): YNode | null {
    let n = node;
    for (let depth = 0; isAlias(n) && depth < 16; depth++) {
      n = n.resolve(this.doc);
    }
    if (isMap(n) || isSeq(n) || isScalar(n)) return n as YNode;
    return null;
  }

  /**
   * The entries of a map, keyed by name. Unknown keys (with a suggestion among `allowed`),
   * duplicate keys and non-text keys are reported and left out.
   */
  map(
    node: YNode | null,
    label: string,
    where: string,
    allowed: readonly string[],
    example: string,
  ): MapEntries | undefined {
    if (!isMap(node)) {
      this.report.error(
        node,
        `${label} must be a map, got ${describeValue(node)}`,
        `e.g. ${example}`,
      );
      return undefined;
    }
    const entries = new MapEntries();
    for (const pair of node.items) {
      const key = this.resolve(pair.key);
      if (!isScalar(key) || typeof key.value !== "string") {
        this.report.error(
          key ?? node,
          `keys ${where} must be names, got ${describeValue(key)}`,
          `allowed here: ${allowed.join(", ")}`,
        );
        continue;
      }
      const name = key.value;
      if (!allowed.includes(name)) {
        entries.unknownKeys.push(name);
        this.report.error(
          key,
          `unknown key "${name}" ${where}${didYouMean(name, allowed)}`,
          `allowed here: ${allowed.join(", ")}`,
        );
        continue;
      }
      const first = entries.get(name);
      if (first) {
        const { line } = this.report.at(first.key);
        this.report.error(
          key,
          `key "${name}" appears twice ${where} (first on line ${line})`,
          `keep one of them`,
        );
        continue;
      }
      entries.set(name, { key, value: this.resolve(pair.value) });
    }
    return entries;
  }

  /** Items of a list (aliases resolved). */
  list(
    node: YNode | null,
    label: string,
    example: string,
  ): (YNode | null)[] | undefined {
    if (!isSeq(node)) {
      this.report.error(
        node,
        `${label} must be a list, got ${describeValue(node)}`,
        `e.g. ${example}`,
      );
      return undefined;
    }
    return node.items.map((item) => this.resolve(item));
  }

  /** A non-empty text value. */
  string(node: YNode | null, label: string, example: string): string | undefined {
    if (isScalar(node) && typeof node.value === "string" && node.value !== "") return node.value;
    this.report.error(
      node,
      `${label} must be text, got ${describeValue(node)}`,
      `e.g. ${example}`,
    );
    return undefined;
  }

  /** A whole number in `min..max`. */
  integer(
    node: YNode | null,
    label: string,
    min: number,
    max: number,
    example: string,
  ): number | undefined {
    const v = isScalar(node) ? node.value : undefined;
    if (typeof v === "number" && Number.isInteger(v) && v >= min && v <= max) return v;
    this.report.error(
      node,
      `${label} must be a whole number from ${min} to ${max}, got ${describeValue(node)}`,
      `e.g. ${example}`,
    );
    return undefined;
  }
}
