/**
 * Diagnostics: collecting them with positions taken from the YAML parser's node ranges, and
 * printing them the way compilers do (`file:line:col: error: message`), so editors can jump to
 * them.
 *
 * @module
 */

import type { LineCounter } from "./yaml.ts";
import type { Diagnostic, Severity } from "./types.ts";

/** `weave.yaml:12:7: error: <message>` plus `\n  hint: <hint>` when there is a hint. */
export function formatDiagnostic(d: Diagnostic): string {
  const head = `${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}`;
  return d.hint ? `${head}\n  hint: ${d.hint}` : head;
}

/** All diagnostics, errors first, each in the order found. */
export function formatDiagnostics(ds: readonly Diagnostic[]): string {
  const errors = ds.filter((d) => d.severity === "error");
  const warnings = ds.filter((d) => d.severity !== "error");
  return [...errors, ...warnings].map(formatDiagnostic).join("\n");
}

/** Anything with a yaml source range (`[start, valueEnd, nodeEnd]` offsets). */
export interface Ranged {
  range?: readonly [number, number, number] | null;
}

/** Collects diagnostics for one file, turning source offsets into 1-based line and column. */
export class Reporter {
  readonly diagnostics: Diagnostic[] = [];
  constructor(readonly file: string, private readonly lines: LineCounter) {}

  /** Position of a node (its first character), or 1:1 when it has none. */
  at(node: Ranged | null | undefined): { line: number; column: number } {
    return this.atOffset(node?.range?.[0] ?? 0);
  }

  atOffset(offset: number): { line: number; column: number } {
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }

  report(
    severity: Severity,
    node: Ranged | null | undefined,
    message: string,
    hint?: string,
  ): void {
    this.#push(severity, this.at(node), message, hint);
  }

  #push(
    severity: Severity,
    pos: { line: number; column: number },
    message: string,
    hint: string | undefined,
  ): void {
    const d: Diagnostic = { severity, file: this.file, ...pos, message };
    if (hint !== undefined) d.hint = hint;
    this.diagnostics.push(d);
  }

  error(node: Ranged | null | undefined, message: string, hint?: string): void {
    this.report("error", node, message, hint);
  }

  warning(node: Ranged | null | undefined, message: string, hint?: string): void {
    this.report("warning", node, message, hint);
  }

  errorAtOffset(offset: number, message: string, hint?: string): void {
    this.#push("error", this.atOffset(offset), message, hint);
  }

  get errorCount(): number {
    return this.diagnostics.filter((d) => d.severity === "error").length;
  }
}
