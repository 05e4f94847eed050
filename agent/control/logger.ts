/**
 * The logging the control plane needs, as an interface: the agent passes its own logger
 * (`agent/ops/log.ts` satisfies it), tests pass one that collects lines. This room never
 * imports the agent's logging module, so the arrow points one way.
 *
 * @module
 */

/** Severity of a log line. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Fields attached to a log line: names, addresses and counters, never key material. */
export type LogFields = Record<string, unknown>;

/** A levelled logger. */
export interface Logger {
  log(level: LogLevel, msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}
