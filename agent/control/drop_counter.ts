/**
 * Bad input from the network, counted by reason and logged at a bounded rate, so that a flood
 * of garbage can neither crash the agent nor turn into a flood of log lines.
 *
 * @module
 */

import type { LogFields, Logger, LogLevel } from "./logger.ts";
import { DROP_REASONS, type DropReason } from "./wire_error.ts";

/** Lines logged per key per window before the rest are only counted. */
export const DEFAULT_LOG_BURST = 5;
/** Length of one rate-limit window. */
export const DEFAULT_LOG_WINDOW_MS = 10_000;
/** Keys remembered at once; the oldest is forgotten first (any number of sources may exist). */
const MAX_KEYS = 1024;

interface Window {
  start: number;
  count: number;
  suppressed: number;
}

/** Drop counters by reason, and a rate-limited log keyed by reason and source. */
export class DropCounter {
  readonly #counts = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<
    DropReason,
    number
  >;
  readonly #windows = new Map<string, Window>();

  constructor(
    private readonly logger: Logger,
    private readonly burst = DEFAULT_LOG_BURST,
    private readonly windowMs = DEFAULT_LOG_WINDOW_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one drop and logs `msg` under the key `reason:key`, rate-limited. */
  drop(reason: DropReason, key: string, msg: string, level: LogLevel = "warn"): void {
    this.#counts[reason]++;
    this.log(level, `${reason}:${key}`, msg, { reason });
  }

  /** Counts one drop without logging (the caller logs in its own words). */
  count(reason: DropReason): void {
    this.#counts[reason]++;
  }

  /** Logs at most `burst` lines per window for `key`, then one line saying how many were not. */
  log(level: LogLevel, key: string, msg: string, fields?: LogFields): void {
    const t = this.now();
    let w = this.#windows.get(key);
    if (!w || t - w.start >= this.windowMs) {
      if (w && w.suppressed > 0) {
        this.logger.log(level, `${key}: ${w.suppressed} more suppressed`, {
          intervalMs: this.windowMs,
        });
      }
      w = { start: t, count: 0, suppressed: 0 };
      this.#windows.delete(key);
      this.#windows.set(key, w);
      if (this.#windows.size > MAX_KEYS) this.#windows.delete(this.#windows.keys().next().value!);
    }
    if (w.count < this.burst) {
      w.count++;
      this.logger.log(level, msg, fields);
    } else {
      w.suppressed++;
    }
  }

  /** A copy of the counters. */
  snapshot(): Record<DropReason, number> {
    return { ...this.#counts };
  }
}
