/**
 * One line per event, on stderr: `2026-11-25T02:16:43.123Z warn  peer edge-2: message key=value`
 * or, with `--log-format json`, one JSON object per line for log shippers. Under the journal
 * (systemd's `JOURNAL_STREAM` names our stderr) a line starts with its syslog priority (`<3>`
 * error, `<4>` warn, `<6>` info, `<7>` debug) and carries no timestamp of its own: the journal
 * keeps both. Secrets never reach this module: callers pass names, addresses and counters,
 * never key material.
 *
 * @module
 */

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "text" | "json";

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Fields attached to a log line; values are printed with `String()` (objects as JSON). */
export type LogFields = Record<string, unknown>;

/** A sink for log lines; tests can collect them instead of printing. */
export type LogSink = (line: string) => void;

const encoder = new TextEncoder();
const stderrSink: LogSink = (line) => {
  try {
    Deno.stderr.writeSync(encoder.encode(line + "\n"));
  } catch {
    // stderr closed (daemonised, pipe gone): logging must never take the agent down.
  }
};

/** The syslog priority of each level, as the journal reads `<N>` prefixes (sd-daemon(3)). */
export const SYSLOG_PRIORITY: Record<LogLevel, number> = { debug: 7, info: 6, warn: 4, error: 3 };

/**
 * Whether stderr is the stream systemd connected to the journal: it sets
 * `JOURNAL_STREAM=<device>:<inode>` of that stream, and a process whose stderr was redirected
 * elsewhere (a pipe, a file) inherits the variable but must not act on it. Pure.
 */
export function isJournalStream(
  journalStream: string | undefined,
  stderr: { dev: number; ino: number | null } | null,
): boolean {
  return !!journalStream && stderr !== null && journalStream === `${stderr.dev}:${stderr.ino}`;
}

let stderrJournal: boolean | undefined;
/** `isJournalStream` for this process's stderr, looked at once. */
export function stderrIsJournal(): boolean {
  if (stderrJournal === undefined) {
    try {
      stderrJournal = isJournalStream(
        Deno.env.get("JOURNAL_STREAM"),
        Deno.statSync("/proc/self/fd/2"),
      );
    } catch {
      stderrJournal = false; // no permission to look, or no /proc: not the journal
    }
  }
  return stderrJournal;
}

/** A levelled logger with a fixed component name. */
export class Logger {
  #min: number;
  constructor(
    readonly component: string,
    readonly level: LogLevel = "info",
    readonly format: LogFormat = "text",
    readonly sink: LogSink = stderrSink,
    /** Journal lines (priority prefix, no timestamp); default: when stderr is the journal. */
    readonly journal: boolean = sink === stderrSink && stderrIsJournal(),
  ) {
    this.#min = LEVELS[level];
  }

  /** A logger for a sub-component, sharing level, format, sink and journal mode. */
  child(component: string): Logger {
    return new Logger(component, this.level, this.format, this.sink, this.journal);
  }

  enabled(level: LogLevel): boolean {
    return LEVELS[level] >= this.#min;
  }

  debug(msg: string, fields?: LogFields): void {
    this.log("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.log("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.log("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.log("error", msg, fields);
  }

  log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (!this.enabled(level)) return;
    const time = this.journal ? undefined : new Date().toISOString();
    const priority = this.journal ? `<${SYSLOG_PRIORITY[level]}>` : "";
    if (this.format === "json") {
      const record = { time, level, component: this.component, msg, ...fields };
      this.sink(priority + JSON.stringify(record));
      return;
    }
    let line = this.journal
      ? `${priority}${this.component}: ${msg}`
      : `${time} ${level.padEnd(5)} ${this.component}: ${msg}`;
    for (const [k, v] of Object.entries(fields ?? {})) {
      const s = typeof v === "string" ? v : JSON.stringify(v);
      line += ` ${k}=${/[\s"]/.test(s) ? JSON.stringify(s) : s}`;
    }
    // The journal makes one entry per line: each line of a multi-line message keeps the priority.
    this.sink(this.journal ? line.replaceAll("\n", `\n${priority}`) : line);
  }
}

/**
 * Logs at most `burst` lines per `intervalMs` for one key, then one summary of how many were
 * suppressed. Bad input from the network goes through this so a flood of garbage cannot turn
 * into a flood of log lines.
 */
export class RateLimitedLog {
  #windows = new Map<string, { start: number; count: number; suppressed: number }>();
  constructor(
    private readonly logger: Logger,
    private readonly burst = 5,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  log(level: LogLevel, key: string, msg: string, fields?: LogFields): void {
    const t = this.now();
    let w = this.#windows.get(key);
    if (!w || t - w.start >= this.intervalMs) {
      if (w && w.suppressed > 0) {
        this.logger.log(level, `${key}: ${w.suppressed} more suppressed`, {
          intervalMs: this.intervalMs,
        });
      }
      w = { start: t, count: 0, suppressed: 0 };
      this.#windows.set(key, w);
      if (this.#windows.size > 1024) this.#windows.delete(this.#windows.keys().next().value!);
    }
    if (w.count < this.burst) {
      w.count++;
      this.logger.log(level, msg, fields);
    } else {
      w.suppressed++;
    }
  }
}
