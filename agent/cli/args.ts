/**
 * The `weave-agent` command line: parses flags, dispatches to a command, maps outcomes to exit
 * codes (0 success, 1 failure, 2 usage error; `check` also uses 3 for warnings only).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DEFAULT_CONFIG_PATH, DEFAULT_RUN_DIR } from "../ops/run_paths.ts";
import type { LogFormat, LogLevel } from "../ops/log.ts";

/** Flags shared by every command, after parsing. */
export interface CommonFlags {
  config: string;
  name?: string;
  json: boolean;
  logLevel: LogLevel;
  logFormat: LogFormat;
  runDir?: string;
  showKeys: boolean;
  /** `genpass --out FILE`: where to write (absent: print). */
  out?: string;
  /** `validate --format`: `text` (default) or `github` (workflow annotations). */
  format: "text" | "github";
}

/** A usage error: printed with the command's help, exit code 2. */
export class UsageError extends Error {}

interface CommandSpec {
  summary: string;
  usage: string;
  details: string;
  flags: string[];
}

const FLAG_HELP: Record<string, string> = {
  config: `-c, --config FILE     weave.yaml to use (default ${DEFAULT_CONFIG_PATH})`,
  name: "--name NAME           which peer this box is (default: the hostname)",
  json: "--json                machine-readable output",
  "log-level": "--log-level LEVEL     debug | info | warn | error (default info)",
  "log-format": "--log-format FORMAT   text | json (default text)",
  "run-dir":
    `--run-dir DIR         control socket folder (default ${DEFAULT_RUN_DIR}, or $WEAVE_RUN_DIR)`,
  "show-keys": "--show-keys           print key material in plan output (default: redacted)",
  out: "--out FILE            write to a new file, mode 0600 (refused if it exists)",
  format: "--format FORMAT       text | github (GitHub Actions annotations) (default text)",
};

/** Every command, in the order `--help` lists them. */
export const COMMANDS: Record<string, CommandSpec> = {
  up: {
    summary: "run the agent: connect to peers, build the overlay, keep it reconciled",
    usage: "weave-agent up [-c FILE] [--name NAME] [--log-level L] [--log-format F]",
    details:
      "Runs in the foreground until SIGTERM/SIGINT. SIGHUP or a change of the config file\n" +
      "reloads it; a bad config is reported and the last good one stays in force.\n" +
      "Kernel state stays in place when the agent stops (traffic on fast datapath keeps\n" +
      "flowing across a restart); `weave-agent down` removes it.",
    flags: ["config", "name", "log-level", "log-format", "run-dir"],
  },
  validate: {
    summary: "check weave.yaml and explain what it means for this box, or for the fleet",
    usage: "weave-agent validate [-c FILE] [--name NAME] [--json | --format github]",
    details: "Prints every problem with file:line:column and a hint. Exit 1 on errors.\n" +
      "With --name, or on a box that is a peer: what the file means for that box. Anywhere\n" +
      "else (a CI runner): the whole fleet, without a box or the secret; what needs them is\n" +
      "listed as skipped, with why.",
    flags: ["config", "name", "json", "format"],
  },
  plan: {
    summary: "print the exact commands that would bring this box to the desired state",
    usage: "weave-agent plan [-c FILE] [--name NAME] [--json] [--show-keys]",
    details: "Asks the running agent for its plan; without one, plans from the config alone\n" +
      "(bridges, TAP and VXLAN devices; per-peer entries need sessions).",
    flags: ["config", "name", "json", "show-keys", "run-dir"],
  },
  check: {
    summary: "preflight: what works on this box, what doesn't, and how to fix it",
    usage: "weave-agent check [-c FILE] [--name NAME] [--json]",
    details: "Exit 0 all ok, 1 any failure, 3 warnings only.",
    flags: ["config", "name", "json", "run-dir"],
  },
  status: {
    summary: "show peers, sessions, datapaths, counters of the running agent",
    usage: "weave-agent status [--name NAME] [--json]",
    details: "Talks to the agent's root-only control socket.",
    flags: ["config", "name", "json", "run-dir"],
  },
  genpass: {
    summary: "make a new random fleet password (256 bits)",
    usage: "weave-agent genpass [--out FILE]",
    details: "Writes it to a new file with mode 0600 (never overwrites one), or prints it.\n" +
      "Use it as password: { file: FILE } on every box.",
    flags: ["out"],
  },
  down: {
    summary: "stop the agent (if running) and remove everything it created in the kernel",
    usage: "weave-agent down [--name NAME]",
    details: "Removes only objects the agent owns: wv* links, its xfrm reqid range, its nft table.",
    flags: ["config", "name", "run-dir", "log-level"],
  },
};

/** Top-level help text. */
export function mainHelp(): string {
  const lines = [
    "weave-agent: encrypted overlay networks for fleets of Linux boxes",
    "",
    "Usage: weave-agent <command> [flags]",
    "",
    "Commands:",
  ];
  for (const [name, spec] of Object.entries(COMMANDS)) {
    lines.push(`  ${name.padEnd(10)}${spec.summary}`);
  }
  lines.push("", "Run `weave-agent <command> --help` for a command's flags.");
  return lines.join("\n");
}

/** Help text of one command. */
export function commandHelp(command: string): string {
  const spec = COMMANDS[command];
  return [
    `weave-agent ${command}: ${spec.summary}`,
    "",
    `Usage: ${spec.usage}`,
    "",
    spec.details,
    "",
    "Flags:",
    ...spec.flags.map((f) => `  ${FLAG_HELP[f]}`),
    "  -h, --help            this help",
  ].join("\n");
}

/** Result of parsing argv: a command with flags, or a help request. */
export type ParsedArgs =
  | { kind: "help"; command?: string }
  | { kind: "version" }
  | { kind: "command"; command: string; flags: CommonFlags };

/** Parses argv; throws UsageError with a precise message on any mistake. */
export function parseCommandLine(argv: string[]): ParsedArgs {
  const [command, ...rest] = argv;
  if (command === undefined || command === "-h" || command === "--help" || command === "help") {
    return rest[0] && COMMANDS[rest[0]] ? { kind: "help", command: rest[0] } : { kind: "help" };
  }
  if (command === "--version" || command === "version") return { kind: "version" };
  const spec = COMMANDS[command];
  if (!spec) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  const options = {
    config: { type: "string", short: "c" },
    name: { type: "string" },
    json: { type: "boolean" },
    "log-level": { type: "string" },
    "log-format": { type: "string" },
    "run-dir": { type: "string" },
    "show-keys": { type: "boolean" },
    out: { type: "string" },
    format: { type: "string" },
    help: { type: "boolean", short: "h" },
  } as const;
  let values;
  try {
    ({ values } = parseArgs({ args: rest, options, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new UsageError(`${command}: ${e instanceof Error ? e.message : e}`);
  }
  if (values.help) return { kind: "help", command };
  for (const key of Object.keys(values)) {
    if (key !== "help" && !spec.flags.includes(key)) {
      throw new UsageError(`${command}: --${key} does not apply to this command`);
    }
  }
  const logLevel = values["log-level"] ?? "info";
  if (!["debug", "info", "warn", "error"].includes(logLevel)) {
    throw new UsageError(`--log-level must be debug, info, warn or error, not ${logLevel}`);
  }
  const logFormat = values["log-format"] ?? "text";
  if (!["text", "json"].includes(logFormat)) {
    throw new UsageError(`--log-format must be text or json, not ${logFormat}`);
  }
  const format = values.format ?? "text";
  if (!["text", "github"].includes(format)) {
    throw new UsageError(`--format must be text or github, not ${format}`);
  }
  if (values.json && values.format !== undefined) {
    throw new UsageError(`${command}: --json and --format are two outputs; pick one`);
  }
  if (values.name !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(values.name)) {
    throw new UsageError(`--name ${JSON.stringify(values.name)} is not a valid peer name`);
  }
  return {
    kind: "command",
    command,
    flags: {
      config: values.config ?? DEFAULT_CONFIG_PATH,
      name: values.name,
      json: values.json ?? false,
      logLevel: logLevel as LogLevel,
      logFormat: logFormat as LogFormat,
      runDir: values["run-dir"],
      showKeys: values["show-keys"] ?? false,
      out: values.out,
      format: format as "text" | "github",
    },
  };
}
