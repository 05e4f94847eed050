/**
 * The logger datapath/ takes as an option: the few methods it calls, so datapath never imports
 * agent/. The agent's logger (agent/ops/log.ts) fits it as it is.
 *
 * @module
 */

/** Structured fields of a log line. */
export type LogFields = Record<string, string | number | boolean>;

/** Where datapath code reports what the operator should know. */
export interface Logger {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}
