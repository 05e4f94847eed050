/**
 * One line of the `weave-agent check` report, and the constructor every item function uses.
 *
 * @module
 */

/** Outcome of one item. */
export type CheckStatus = "ok" | "warning" | "failure";

/** One line of the preflight report. */
export interface CheckItem {
  /** Stable identifier, e.g. `port.control`, `peer.edge-2` (see `items.ts`). */
  id: string;
  /** Section it belongs to, e.g. `ports`. */
  group: string;
  status: CheckStatus;
  /** What was found, in words. */
  found: string;
  /** The exact action that fixes it (for warnings and failures). */
  fix?: string;
}

/** An item; `fix` is left out when there is none, so `--json` shows no `fix: undefined`. */
export function item(
  id: string,
  group: string,
  status: CheckStatus,
  found: string,
  fix?: string,
): CheckItem {
  return fix === undefined ? { id, group, status, found } : { id, group, status, found, fix };
}
