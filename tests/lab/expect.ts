/**
 * Comparisons for tests that show the values they compare: a failure says `txBytes: 812 is not
 * >= 1048576`, not `false !== true`. Equality and regular expressions come from `node:assert`
 * (`strictEqual`, `match`, `doesNotMatch`); these cover orderings and substrings.
 *
 * @module
 */

import { AssertionError } from "node:assert";

function fail(what: string, detail: string, context?: string): never {
  const message = `${what}: ${detail}${context ? `\n${context}` : ""}`;
  throw new AssertionError({ message });
}

/** `actual >= min`. */
export function atLeast(actual: number, min: number, what: string, context?: string): void {
  if (!(actual >= min)) fail(what, `${actual} is not >= ${min}`, context);
}

/** `actual > min`. */
export function above(actual: number, min: number, what: string, context?: string): void {
  if (!(actual > min)) fail(what, `${actual} is not > ${min}`, context);
}

/** `actual < max`. */
export function below(actual: number, max: number, what: string, context?: string): void {
  if (!(actual < max)) fail(what, `${actual} is not < ${max}`, context);
}

/** `haystack` contains `needle`; the failure shows the haystack. */
export function includes(haystack: string | readonly string[], needle: string, what: string): void {
  if (!haystack.includes(needle)) {
    const shown = typeof haystack === "string" ? haystack : JSON.stringify(haystack);
    fail(what, `${JSON.stringify(needle)} not in ${shown}`);
  }
}

/** `haystack` does not contain `needle`; the failure shows the haystack. */
export function excludes(haystack: string | readonly string[], needle: string, what: string): void {
  if (haystack.includes(needle)) {
    const shown = typeof haystack === "string" ? haystack : JSON.stringify(haystack);
    fail(what, `${JSON.stringify(needle)} found in ${shown}`);
  }
}
